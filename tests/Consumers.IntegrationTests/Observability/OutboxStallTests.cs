using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Outbox;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Consumers.IntegrationTests.Observability;

/// <summary>
/// A stalled outbox shows on a worker that does not relay: the backlog and the oldest row's age come from the
/// database, and readiness turns Degraded past the threshold, until a relay publishes again.
/// </summary>
public sealed class OutboxStallTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_worker_without_the_relay_sees_the_outbox_stall_and_recover()
    {
        var watchSettings = new Dictionary<string, string?>
        {
            ["Consumers:Outbox:Enabled"] = "false",
            ["Consumers:Outbox:BacklogCheckInterval"] = "00:00:00.200",
            ["Consumers:Outbox:StallThreshold"] = "00:00:01.500",
        };
        var watcher = await env.StartWorkerAsync("watcher", watchSettings);
        var monitor = watcher.Get<OutboxBacklogMonitor>();
        var health = watcher.Get<HealthCheckService>();
        Assert.False(watcher.Get<OutboxRelay>().IsLeader);

        // Nobody relays: the job's JobRequested waits in the outbox.
        var job = TestEnvironment.SyntheticJob("stall.json", ("durationMs", "100"));
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);

        HealthReport? report = null;
        await Eventually.WaitAsync(async () =>
        {
            report = await health.CheckHealthAsync(c => c.Tags.Contains("ready"));
            return report.Status == HealthStatus.Degraded && report.Entries["outbox"].Status == HealthStatus.Degraded;
        }, TimeSpan.FromSeconds(30), () => $"readiness never turned Degraded for the stalled outbox; last {report?.Status}");
        // Nothing publishes, so the count stays what the database holds (the JobRequested and the `requested` event).
        Assert.Equal(await env.CountAsync("SELECT count(*) FROM outbox_messages"), monitor.Backlog);
        Assert.True(monitor.Backlog >= 1);
        Assert.True(monitor.OldestAgeSeconds > 1.5, $"oldest age read as {monitor.OldestAgeSeconds}s");
        Assert.Contains("outbox stalled", report!.Entries["outbox"].Description, StringComparison.Ordinal);

        // A relay comes: the row is published, the job runs, and the watcher sees the outbox empty again.
        await env.StartWorkerAsync("relay");
        await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(60));
        await Eventually.WaitAsync(async () => (await health.CheckHealthAsync(c => c.Tags.Contains("ready"))).Entries["outbox"].Status == HealthStatus.Healthy
                                               && monitor.Backlog == 0 && monitor.OldestAgeSeconds == 0,
            TimeSpan.FromSeconds(30), () => $"the watcher still sees a stall: backlog {monitor.Backlog}, age {monitor.OldestAgeSeconds}s");
    }
}
