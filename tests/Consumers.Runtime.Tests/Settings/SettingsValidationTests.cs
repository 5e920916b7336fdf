using Consumers.Runtime.Failures;
using Consumers.Runtime.Flow;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Persistence;
using Consumers.Runtime.Recovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
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
    [InlineData("Consumers:Flow:ConcurrentJobs", "0", "Consumers:Flow:ConcurrentJobs must be at least 1")]
    [InlineData("Consumers:RabbitMq:ConcurrentJobs", "0", "Consumers:Flow:ConcurrentJobs must be at least 1")]
    [InlineData("Consumers:Database:CommandTimeoutSeconds", "0", "Consumers:Database:CommandTimeoutSeconds must be from 1 to 3600")]
    [InlineData("Consumers:Database:AcquireTimeout", "00:00:00", "Consumers:Database:AcquireTimeout must be positive")]
    [InlineData("Consumers:Database:AcquireTimeout", "00:00:08", "Consumers:Database:AcquireTimeout must be below the self-fencing point of the shortest lease")]
    [InlineData("Consumers:Scratch:StagedLeftoverAge", "00:01:00", "Consumers:Scratch:StagedLeftoverAge must be at least 10 minutes")]
    public void A_setting_that_cannot_work_stops_start_up_naming_its_key_and_rule(string key, string value, string expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();
        using var services = new ServiceCollection().AddLogging().AddConsumersCore(configuration)
            .AddValidatedFlow(configuration).BuildServiceProvider();

        var failure = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains(failure.Failures, f => f.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void The_acquire_bound_stays_below_the_fencing_point_of_every_stage_lease()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Consumers:Database:AcquireTimeout"] = "00:00:03.500",
            ["Consumers:Leases:StageLeaseTimeouts:probe"] = "00:00:04",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddConsumersCore(configuration)
            .AddValidatedFlow(configuration).BuildServiceProvider();

        var failure = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains(failure.Failures, f => f.StartsWith("Consumers:Database:AcquireTimeout must be below the self-fencing point of the shortest lease (00:00:04", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("3", null, 3)]
    [InlineData("3", "5", 5)]
    [InlineData(null, "5", 5)]
    [InlineData(null, null, 8)]
    public void ConcurrentJobs_is_read_from_its_old_key_only_while_the_new_one_is_absent(string? oldValue, string? newValue, int expected)
    {
        // Only the keys that are set: a key present with no value is not the same as an absent key to the binder.
        var settings = new Dictionary<string, string?>();
        if (oldValue is not null)
        {
            settings[FlowOptions.LegacyConcurrentJobsKey] = oldValue;
        }

        if (newValue is not null)
        {
            settings["Consumers:Flow:ConcurrentJobs"] = newValue;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        using var services = new ServiceCollection().AddLogging().AddConsumersCore(configuration).BuildServiceProvider();

        Assert.Equal(expected, services.GetRequiredService<IOptions<FlowOptions>>().Value.ConcurrentJobs);
    }

    [Theory]
    [InlineData(null, "is deprecated and will be removed: its value is used for Consumers:Flow:ConcurrentJobs")]
    [InlineData("5", "is deprecated and ignored because Consumers:Flow:ConcurrentJobs is set")]
    public async Task The_old_ConcurrentJobs_key_is_named_in_a_warning_at_start(string? newValue, string expected)
    {
        var settings = new Dictionary<string, string?> { [FlowOptions.LegacyConcurrentJobsKey] = "3" };
        if (newValue is not null)
        {
            settings["Consumers:Flow:ConcurrentJobs"] = newValue;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var logs = new CollectingLoggerProvider();
        using var services = new ServiceCollection().AddLogging(b => b.AddProvider(logs)).AddSingleton<IConfiguration>(configuration)
            .AddConsumersCore(configuration).BuildServiceProvider();

        foreach (var hosted in services.GetServices<Microsoft.Extensions.Hosting.IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        var warning = Assert.Single(logs.Messages, m => m.Contains(FlowOptions.LegacyConcurrentJobsKey, StringComparison.Ordinal));
        Assert.Contains(expected, warning, StringComparison.Ordinal);
    }

    private sealed class CollectingLoggerProvider : ILoggerProvider
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Messages { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Collector(Messages);

        public void Dispose()
        {
        }

        private sealed class Collector(System.Collections.Concurrent.ConcurrentQueue<string> messages) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    messages.Enqueue(formatter(state, exception));
                }
            }
        }
    }
}

internal static class FlowSettingsForTests
{
    // The worker registers the flow settings (AddConsumersWorker); the core alone does not.
    public static IServiceCollection AddValidatedFlow(this IServiceCollection services, IConfiguration configuration) =>
        Consumers.Runtime.Settings.SettingsServiceCollectionExtensions.AddValidatedSettings<FlowOptions>(services, configuration, FlowOptions.Section);
}
