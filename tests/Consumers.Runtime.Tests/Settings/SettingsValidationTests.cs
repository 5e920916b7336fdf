using Consumers.Runtime;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Flow;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Persistence;
using Consumers.Runtime.Recovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Tests.Settings;

/// <summary>Every settings class refuses what cannot work, naming the full key and the rule; the defaults pass.</summary>
public sealed class SettingsValidationTests
{
    [Fact]
    public void The_defaults_are_sound()
    {
        Assert.Empty(new LeaseOptions().Problems());
        Assert.Empty(new WorkerOptions().Problems());
        Assert.Empty(new RecoveryOptions().Problems());
        Assert.Empty(new FlowOptions().Problems());
        Assert.Empty(new RetryOptions().Problems());
        Assert.Empty(new DatabaseOptions().Problems());
        Assert.Empty(new Consumers.Runtime.Scratch.ScratchOptions().Problems());
        Assert.Empty(new Consumers.Runtime.Artifacts.ArtifactOptions().Problems());
        Assert.Empty(new Consumers.Runtime.Telemetry.TelemetryOptions().Problems());
    }

    [Theory]
    [InlineData("Consumers:Leases:HeartbeatInterval", "00:00:06", "Consumers:Leases:LeaseTimeout must be at least twice HeartbeatInterval")]
    [InlineData("Consumers:Leases:SelfFenceFraction", "1.5", "Consumers:Leases:SelfFenceFraction must be a fraction")]
    [InlineData("Consumers:Leases:HeartbeatTimeoutFraction", "0.9", "Consumers:Leases:HeartbeatTimeoutFraction must be below SelfFenceFraction")]
    [InlineData("Consumers:Leases:MaxDeadline", "00:10:00", "Consumers:Leases:MaxDeadline must be at least BaseDeadline")]
    [InlineData("Consumers:Worker:DefaultMaxAttempts", "0", "Consumers:Worker:DefaultMaxAttempts must be from 1 to 100")]
    [InlineData("Consumers:Flow:Backpressure:CpuLowWatermark", "0.99", "Consumers:Flow:Backpressure:CpuHighWatermark must be above CpuLowWatermark")]
    [InlineData("Consumers:Flow:Backpressure:QueueLowWatermark", "20000", "Consumers:Flow:Backpressure:QueueHighWatermark must be above QueueLowWatermark")]
    [InlineData("Consumers:Retry:Default:Jitter", "2", "Consumers:Retry:Default:Jitter must be from 0 to 1")]
    [InlineData("Consumers:Recovery:ClusterCheckinMisfireThreshold", "00:00:01", "Consumers:Recovery:ClusterCheckinMisfireThreshold must be at least ClusterCheckinInterval")]
    [InlineData("Consumers:Database:CommandTimeoutSeconds", "0", "Consumers:Database:CommandTimeoutSeconds must be from 1 to 3600")]
    public void A_setting_that_cannot_work_stops_start_up_naming_its_key_and_rule(string key, string value, string expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();
        using var services = new ServiceCollection().AddLogging().AddConsumersCore(configuration)
            .AddValidatedFlow(configuration).BuildServiceProvider();

        var failure = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains(failure.Failures, f => f.StartsWith(expected, StringComparison.Ordinal));
    }
}

internal static class FlowSettingsForTests
{
    // The worker registers the flow settings (AddConsumersWorker); the core alone does not.
    public static IServiceCollection AddValidatedFlow(this IServiceCollection services, IConfiguration configuration) =>
        Consumers.Runtime.Settings.SettingsServiceCollectionExtensions.AddValidatedSettings<FlowOptions>(services, configuration, FlowOptions.Section);
}
