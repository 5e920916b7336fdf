using Consumers.Runtime.Control;
using Consumers.Runtime.Recovery;
using Consumers.Runtime.Settings;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Tests.Settings;

/// <summary>
/// The sweep's and retention's settings decide what the worker registers and are injected too: one binding serves both,
/// so the schedule and the running code can never read different values.
/// </summary>
public sealed class BoundOnceTests
{
    [Fact]
    public void Recovery_and_retention_settings_are_bound_once_for_the_schedule_and_the_services()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Consumers:Recovery:SweepInterval"] = "00:00:07",
            ["Consumers:Retention:Interval"] = "00:03:00",
        }).Build();
        var services = new ServiceCollection().AddLogging().AddConsumersCore(configuration);
        services.AddRecoverySweep(configuration);

        // No second binding registered: only the instance bound at registration.
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(IConfigureOptions<RecoveryOptions>));
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(IConfigureOptions<RetentionOptions>));
        using var provider = services.BuildServiceProvider();
        var recovery = provider.GetRequiredService<IOptions<RecoveryOptions>>().Value;
        Assert.Same(recovery, provider.GetRequiredService<IOptionsMonitor<RecoveryOptions>>().CurrentValue);
        Assert.Same(recovery, services.AddSettingsBoundNow<RecoveryOptions>(configuration, RecoveryOptions.Section));
        Assert.Equal(TimeSpan.FromSeconds(7), recovery.SweepInterval);
        Assert.Equal(TimeSpan.FromMinutes(3), provider.GetRequiredService<IOptions<RetentionOptions>>().Value.Interval);
    }
}
