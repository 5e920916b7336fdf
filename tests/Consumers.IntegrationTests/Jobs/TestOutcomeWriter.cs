using Consumers.Runtime.Jobs;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Consumers.IntegrationTests.Jobs;

/// <summary>An <see cref="OutcomeWriter"/> on a test's store, with default settings, in a host that keeps running.</summary>
internal static class TestOutcomeWriter
{
    /// <param name="services">A provider with metrics (<c>AddMetrics()</c>), which the writer counts into.</param>
    public static OutcomeWriter For(JobStore store, IServiceProvider services) =>
        new(store, new ConsumersMetrics(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            Options.Create(new WorkerOptions()), new RunningHost(), TimeProvider.System, NullLogger<OutcomeWriter>.Instance);

    private sealed class RunningHost : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;
        public CancellationToken ApplicationStopping => CancellationToken.None;
        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication()
        {
        }
    }
}
