using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Control;

/// <summary>Priority on the real stack: a priority job overtakes a lane's backlog; a queue declared against the setting stops the start with one line.</summary>
public sealed class PriorityTests : IAsyncLifetime
{
    private const int Backlog = 200;
    private const string LaneQueue = "consumers.jobs.synthetic";

    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_priority_job_starts_ahead_of_a_backlog_of_200_waiting_in_its_lane()
    {
        // One slot in the synthetic lane: the shared lane forwards every request there, so the backlog waits in the lane queue.
        await env.StartWorkerAsync("worker-a", new Dictionary<string, string?>
        {
            ["Consumers:Flow:Stages:synthetic:Slots"] = "1",
        });
        // Half a second each: the queue depth the test waits for lags by the statistics interval (5 s), and the backlog
        // must still be there, mostly, when the urgent job has finished.
        var backlog = Enumerable.Range(0, Backlog)
            .Select(i => TestEnvironment.SyntheticJob($"out/low-{i}.json", ("durationMs", "500")) with { Priority = 1 })
            .ToList();
        foreach (var job in backlog)
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        await Eventually.WaitAsync(async () => await env.Rabbit.QueueDepthAsync(env.VirtualHost, LaneQueue) >= Backlog * 3 / 4,
            TimeSpan.FromSeconds(60), () => "the backlog never gathered in the lane queue");
        var lane = await env.Rabbit.QueueAsync(env.VirtualHost, LaneQueue);
        Assert.Equal(9, lane!["arguments"]!["x-max-priority"]!.GetValue<int>());

        var urgent = TestEnvironment.SyntheticJob("out/urgent.json") with { Priority = JobPriority.Highest };
        var submittedAt = DateTimeOffset.UtcNow;
        await env.Store.SubmitAsync(urgent, 3, CancellationToken.None);
        var done = await env.WaitForTerminalAsync(urgent.JobId, TimeSpan.FromSeconds(60));

        Assert.Equal(JobStatuses.Succeeded, done.Status);
        Assert.Equal(JobPriority.Highest, done.Priority);
        // Only the deliveries already handed to the lane (its slot plus the prefetch buffer) may start between the
        // urgent job's submit and its start; everything still waiting in the queue stays behind it.
        var overtakenBy = await env.CountAsync(
            "SELECT count(*) FROM jobs WHERE priority = 1 AND processing_started_at > " +
            $"'{submittedAt:O}'::timestamptz AND processing_started_at < '{done.ProcessingStartedAt!.Value:O}'::timestamptz");
        Assert.True(overtakenBy <= 3, $"{overtakenBy} lower-priority jobs started between the urgent job's submit and its start");
        var stillWaiting = await env.CountAsync("SELECT count(*) FROM jobs WHERE priority = 1 AND status = 'queued'");
        Assert.True(stillWaiting >= Backlog / 2, $"only {stillWaiting} jobs were still waiting when the urgent one finished: no backlog was overtaken");
    }

    [Fact]
    public async Task A_job_queue_declared_without_priority_stops_a_worker_set_to_on_with_one_line_and_auto_runs_on_it()
    {
        // An installation from before priorities: the job queue exists as a plain queue.
        await env.Rabbit.DeclareQueueAsync(env.VirtualHost, "consumers.jobs");

        var (exit, output, error) = await Cli.RunAsync(env, "run", "--set", "Consumers:RabbitMq:Priority=on");

        Assert.True(exit == 2, $"exit {exit}: {output}{error}");
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("'consumers.jobs' exists without x-max-priority", line, StringComparison.Ordinal);
        Assert.Contains("docs/rollout.md", line, StringComparison.Ordinal);

        // auto uses the queue as it is (arrival order) and runs jobs.
        await env.StartWorkerAsync("worker-a");
        var job = TestEnvironment.SyntheticJob("out/plain.json") with { Priority = 8 };
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(60))).Status);
        Assert.Null((await env.Rabbit.QueueAsync(env.VirtualHost, "consumers.jobs"))!["arguments"]!["x-max-priority"]);
        await env.AssertAllTimelinesValidAsync();
    }
}
