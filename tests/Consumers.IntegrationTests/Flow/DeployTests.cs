using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Flow;

/// <summary>A deploy: SIGTERM to a worker with running jobs: no job lost, none stranded.</summary>
public sealed class DeployTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task Sigterm_finishes_short_jobs_requeues_long_ones_at_once_and_exits_zero()
    {
        await using var leaving = await env.StartWorkerProcessAsync("leaving", new Dictionary<string, string?> { ["Consumers:Flow:DrainTimeout"] = "00:00:04" });
        var shortJob = TestEnvironment.SyntheticJob("short.json", ("durationMs", "2000"));
        // Still running past the 4 s drain even when starting the staying worker takes many seconds on a busy machine.
        var longJob = TestEnvironment.SyntheticJob("long.json", ("durationMs", "30000"));
        await env.Store.SubmitAsync(shortJob, 3, CancellationToken.None);
        await env.Store.SubmitAsync(longJob, 3, CancellationToken.None);
        await Eventually.WaitAsync(async () =>
                (await env.JobAsync(shortJob.JobId))?.LeaseOwner == "leaving" && (await env.JobAsync(longJob.JobId))?.LeaseOwner == "leaving",
            TimeSpan.FromSeconds(60), () => "the leaving worker did not start both jobs");
        await using var staying = await env.StartWorkerProcessAsync("staying");

        leaving.Terminate();
        using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await leaving.WaitForExitAsync(exit.Token);
        }

        Assert.Equal(0, leaving.ExitCode);
        var shortTimeline = await env.TimelineAsync(shortJob.JobId);
        Assert.Equal(JobStatuses.Succeeded, (await env.JobAsync(shortJob.JobId))!.Status);
        Assert.DoesNotContain(shortTimeline, e => e.Type == TimelineEventTypes.Requeued);

        var finished = await env.WaitForTerminalAsync(longJob.JobId, TimeSpan.FromSeconds(120));
        Assert.Equal(JobStatuses.Succeeded, finished.Status);
        var timeline = await env.TimelineAsync(longJob.JobId);
        var aborted = Assert.Single(timeline, e => e.Type == TimelineEventTypes.Aborted);
        var requeued = Assert.Single(timeline, e => e.Type == TimelineEventTypes.Requeued);
        Assert.Equal("shutdown_timeout", Reason(aborted));
        Assert.Equal("shutdown", Reason(requeued));
        var restarted = timeline.Single(e => e.Type == TimelineEventTypes.Started && e.Attempt == 2);
        Assert.Equal("staying", JsonDocument.Parse(restarted.Data).RootElement.GetProperty("worker").GetString());
        // Picked up right away, not after a lease timeout (10 s) had to expire.
        Assert.True((restarted.OccurredAt - requeued.OccurredAt).TotalSeconds < 10, "the requeued job waited for the recovery sweep");
        // The aborted attempt was not charged.
        Assert.Equal(1, finished.UnchargedAttempts);
        Assert.Single(timeline, e => e.Type == TimelineEventTypes.Completed);
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task Sigterm_hands_a_delivery_still_waiting_for_a_slot_straight_back_to_the_queue()
    {
        // Two slots, both taken by long jobs of a lane that may use them all: the next job waits for a worker slot.
        await using var leaving = await env.StartWorkerProcessAsync("leaving", new Dictionary<string, string?>
        {
            ["Consumers:Flow:ConcurrentJobs"] = "2",
            ["Consumers:Flow:Stages:synthetic:Slots"] = "2",
            ["Consumers:Flow:DrainTimeout"] = "00:00:04",
        });
        // Far longer than everything before the SIGTERM plus the drain, so the drain always ends by aborting them.
        var longJobs = new[] { TestEnvironment.SyntheticJob("long-1.json", ("durationMs", "60000")), TestEnvironment.SyntheticJob("long-2.json", ("durationMs", "60000")) };
        foreach (var job in longJobs)
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        await Eventually.WaitAsync(async () => await env.CountAsync("SELECT count(*) FROM jobs WHERE status = 'processing' AND lease_owner = 'leaving'") == 2,
            TimeSpan.FromSeconds(60), () => "the leaving worker did not start both long jobs");
        env.CreateMediaFile("waiting.bin", 1024);
        var waiting = TestEnvironment.ManifestJob("waiting.bin", "waiting.json");
        await env.Store.SubmitAsync(waiting, 3, CancellationToken.None);
        await Eventually.WaitAsync(async () => (await env.Rabbit.QueueAsync(env.VirtualHost, "consumers.jobs"))?["messages_unacknowledged"]?.GetValue<int>() == 1,
            TimeSpan.FromSeconds(30), () => "the waiting job was not delivered to the leaving worker");
        Assert.Equal(JobStatuses.Queued, (await env.JobAsync(waiting.JobId))!.Status);
        await using var staying = await env.StartWorkerProcessAsync("staying");

        leaving.Terminate();

        var done = await env.WaitForTerminalAsync(waiting.JobId, TimeSpan.FromSeconds(60));
        Assert.Equal(JobStatuses.Succeeded, done.Status);
        var timeline = await env.TimelineAsync(waiting.JobId);
        var started = Assert.Single(timeline, e => e.Type == TimelineEventTypes.Started);
        Assert.Equal("staying", JsonDocument.Parse(started.Data).RootElement.GetProperty("worker").GetString());
        Assert.DoesNotContain(timeline, e => e.Type is TimelineEventTypes.Aborted or TimelineEventTypes.Requeued);

        using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await leaving.WaitForExitAsync(exit.Token);
        }

        Assert.Equal(0, leaving.ExitCode);
        // It did not sit out the drain: it ran before the long jobs were aborted at the end of it.
        foreach (var job in longJobs)
        {
            var longTimeline = await env.TimelineAsync(job.JobId);
            var aborted = Assert.Single(longTimeline, e => e.Type == TimelineEventTypes.Aborted);
            Assert.True(started.OccurredAt < aborted.OccurredAt, $"the waiting job started at {started.OccurredAt:O}, after the drain ended at {aborted.OccurredAt:O}");
            Assert.Single(longTimeline, e => e.Type == TimelineEventTypes.Requeued);
        }

        await env.AssertAllTimelinesValidAsync();
    }

    private static string? Reason(Runtime.Timeline.JobEventRecord e) => JsonDocument.Parse(e.Data).RootElement.GetProperty("reason").GetString();
}
