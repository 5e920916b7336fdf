using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Jobs;
using MassTransit;

namespace Consumers.IntegrationTests.Rollout;

/// <summary>Each rollout phase of docs/rollout.md starts a worker that behaves as the page says.</summary>
public sealed class RolloutPhaseTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task Observe_only_writes_heartbeats_but_never_requeues_or_stops_anything()
    {
        using var metrics = new MetricProbe();
        var worker = await env.StartWorkerAsync("observer", new Dictionary<string, string?>
        {
            ["Consumers:Leases:Enforce"] = "false",
            ["Consumers:Recovery:Enabled"] = "false",
        });
        var dead = await AbandonedJobAsync();
        var running = new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "synthetic",
            OutputKey = "observed.json",
            Parameters = new Dictionary<string, string> { ["durationMs"] = "6000" },
        };
        await worker.Get<IBus>().Publish(running);
        await Eventually.WaitAsync(async () => (await env.JobAsync(running.JobId))?.Status == JobStatuses.Processing,
            TimeSpan.FromSeconds(60), () => "the job never started");

        // Take the running job's lease away behind its back: observe mode reports it but lets the attempt run.
        await using (var steal = env.DataSource.CreateCommand($"UPDATE jobs SET lease_token = lease_token + 100 WHERE id = '{running.JobId}'"))
        {
            await steal.ExecuteNonQueryAsync();
        }

        await metrics.WaitForAsync("heartbeats", 2);
        await Eventually.WaitAsync(() => Task.FromResult(File.ReadAllText(Path.Combine(env.LogRoot, "observer.log")).Contains("Lease lost", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), () => "the lost lease was not logged");

        // Its final write is still fenced: the attempt ends without committing, and nothing is requeued.
        await metrics.WaitForAsync("leases_lost", 1);
        Assert.Equal(JobStatuses.Processing, (await env.JobAsync(dead))!.Status);
        Assert.Equal(0, metrics.Total("recovered_jobs"));
        Assert.Contains("observe only", File.ReadAllText(Path.Combine(env.LogRoot, "observer.log")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dry_run_sweep_logs_what_it_would_do_and_changes_nothing()
    {
        await env.StartWorkerAsync("dry", new Dictionary<string, string?> { ["Consumers:Recovery:DryRun"] = "true" });
        var dead = await AbandonedJobAsync();
        var before = await env.JobAsync(dead);

        await Eventually.WaitAsync(() => Task.FromResult(File.ReadAllText(Path.Combine(env.LogRoot, "dry.log")).Contains($"would recover job {dead}", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), () => "the dry run did not log the stale job");

        var after = await env.JobAsync(dead);
        Assert.Equal(JobStatuses.Processing, after!.Status);
        Assert.Equal(before!.LastEventSeq, after.LastEventSeq);
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM job_events WHERE type = 'requeued'"));
    }

    [Fact]
    public async Task Full_recovery_requeues_an_abandoned_job_and_finishes_it()
    {
        await env.StartWorkerAsync("full");
        var dead = await AbandonedJobAsync();

        var job = await env.WaitForTerminalAsync(dead);

        Assert.Equal(JobStatuses.Succeeded, job.Status);
        Assert.Contains(await env.TimelineAsync(dead), e => e.Type == TimelineEventTypes.Requeued);
        await env.AssertAllTimelinesValidAsync();
    }

    /// <summary>A job acquired by a worker that then vanished: processing, with a heartbeat a minute old.</summary>
    private async Task<Guid> AbandonedJobAsync()
    {
        var request = new JobRequested { JobId = Guid.NewGuid(), Stage = "synthetic", OutputKey = "abandoned.json" };
        var outcome = await env.Store.AcquireAsync(request, new AcquireSettings("vanished", 10, 3600, 3), CancellationToken.None);
        Assert.Equal(AcquireOutcomeKind.Acquired, outcome.Kind);
        await using var age = env.DataSource.CreateCommand($"UPDATE jobs SET last_heartbeat_at = now() - interval '1 minute' WHERE id = '{request.JobId}'");
        await age.ExecuteNonQueryAsync();
        return request.JobId;
    }
}
