using System.Diagnostics;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Testing.Faults;
using Xunit.Abstractions;

namespace Consumers.IntegrationTests.Faults;

/// <summary>
/// PostgreSQL stopped under real workers (its own private cluster; the shared one is never touched): requests
/// published meanwhile and jobs running meanwhile all finish once it is back, none in the error queue, none failed.
/// </summary>
public sealed class DatabaseOutageFaultTests(ITestOutputHelper output)
{
    [Fact]
    public Task Stopped_30s_while_requests_are_published_directly_and_jobs_run() => OutageAsync(TimeSpan.FromSeconds(30));

    [Fact]
    public async Task Stopped_5min_while_requests_are_published_directly_and_jobs_run()
    {
        if (!FaultChecks.LongRuns)
        {
            output.WriteLine("skipped: the 5-minute outage runs only with CONSUMERS_FAULTS_LONG=1");
            return;
        }

        await OutageAsync(TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task Sigterm_while_postgresql_is_unreachable_exits_within_the_shutdown_bound()
    {
        await using var postgres = await PrivatePostgres.StartAsync();
        await using var env = await TestEnvironment.CreateAsync(postgres.AdminConnectionString);
        var settings = new Dictionary<string, string?>
        {
            ["Consumers:Flow:DrainTimeout"] = "00:00:02",
            ["Consumers:Flow:AbortTimeout"] = "00:00:02",
            ["Consumers:Flow:OutboxFlushTimeout"] = "00:00:01",
        };
        // 2 + 2 + 1 + 15 s of host timeout, then the watchdog's 10 s.
        var bound = TimeSpan.FromSeconds(30);
        var leaving = await env.StartWorkerProcessAsync("leaving", settings);
        var job = TestEnvironment.SyntheticJob("long.json", ("durationMs", "60000"));
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        await Eventually.WaitAsync(async () => (await env.JobAsync(job.JobId))?.LeaseOwner == "leaving", TimeSpan.FromSeconds(60),
            () => "the worker did not start the job");

        await postgres.StopAsync();
        await FaultChecks.WaitForDatabaseAvailableAsync(leaving, 0, TimeSpan.FromSeconds(30));
        var clock = Stopwatch.StartNew();
        leaving.Terminate();
        using (var exit = new CancellationTokenSource(bound + TimeSpan.FromSeconds(15)))
        {
            await leaving.WaitForExitAsync(exit.Token);
        }

        output.WriteLine($"exited {leaving.ExitCode} after {clock.Elapsed.TotalSeconds:F1}s (bound {bound.TotalSeconds:F0}s + margin)");
        Assert.True(clock.Elapsed < bound + TimeSpan.FromSeconds(5), $"SIGTERM took {clock.Elapsed.TotalSeconds:F1}s");

        // Nothing was lost: with PostgreSQL back, another worker finishes the job once its lease expired.
        await postgres.StartAgainAsync();
        await env.StartWorkerProcessAsync("staying");
        await FaultChecks.AssertAllSucceededOnceAsync(env, [job.JobId], TimeSpan.FromSeconds(180));
    }

    [Fact]
    public async Task A_job_stopped_by_self_fencing_during_an_outage_is_given_back_uncharged()
    {
        await using var postgres = await PrivatePostgres.StartAsync();
        await using var env = await TestEnvironment.CreateAsync(postgres.AdminConnectionString);
        // No sweep: only the attempt itself can give the job back, so what this checks cannot be the sweep's doing.
        var worker = await env.StartWorkerProcessAsync("fenced", new Dictionary<string, string?> { ["Consumers:Recovery:Enabled"] = "false" });
        var job = TestEnvironment.SyntheticJob("fenced.json", ("durationMs", "30000"));
        await env.Store.SubmitAsync(job, 1, CancellationToken.None);
        await Eventually.WaitAsync(async () => (await env.JobAsync(job.JobId))?.LeaseOwner == "fenced", TimeSpan.FromSeconds(60),
            () => "the worker did not start the job");

        await postgres.StopAsync();
        // Past the self-fencing point (80 % of the 10 s lease) and past the lease itself.
        await Eventually.WaitAsync(() => Task.FromResult(worker.ReadLog().Contains("Self-fencing: 1 local jobs", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), () => "the worker never fenced itself");
        await Task.Delay(TimeSpan.FromSeconds(5));
        await postgres.StartAgainAsync();
        // Another worker takes the job back up: whether a self-fenced worker reopens its own intake is the heartbeat's business.
        await env.StartWorkerProcessAsync("other", new Dictionary<string, string?> { ["Consumers:Recovery:Enabled"] = "false" });

        // One attempt allowed: only an uncharged give-back lets the job finish.
        await FaultChecks.AssertAllSucceededOnceAsync(env, [job.JobId], TimeSpan.FromSeconds(120));
        var timeline = await env.TimelineAsync(job.JobId);
        Assert.Contains(timeline, e => e.Type == Contracts.TimelineEventTypes.Requeued && e.Data.Contains("self_fenced", StringComparison.Ordinal));
        Assert.Equal(1, (await env.JobAsync(job.JobId))!.UnchargedAttempts);
    }

    private async Task OutageAsync(TimeSpan outage)
    {
        await using var postgres = await PrivatePostgres.StartAsync();
        await using var env = await TestEnvironment.CreateAsync(postgres.AdminConnectionString);
        var workers = new[] { await env.StartWorkerProcessAsync("outage-a"), await env.StartWorkerProcessAsync("outage-b") };
        var jobs = new List<Guid>();
        for (var i = 0; i < 10; i++)
        {
            var job = TestEnvironment.SyntheticJob($"running-{i}.json", ("durationMs", "4000"));
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
            jobs.Add(job.JobId);
        }

        await Eventually.WaitAsync(async () => await env.CountAsync("SELECT count(*) FROM jobs WHERE status = 'processing'") >= 2,
            TimeSpan.FromSeconds(60), () => "no job started");
        var clock = Stopwatch.StartNew();
        await postgres.StopAsync();
        for (var i = 0; i < 10; i++)
        {
            var (id, json) = FaultChecks.PlainRequest($"published-{i}.json", 500);
            await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", json);
            jobs.Add(id);
        }

        foreach (var worker in workers)
        {
            await FaultChecks.WaitForDatabaseAvailableAsync(worker, 0, TimeSpan.FromSeconds(30));
        }

        // The length of the fault, not an assertion.
        var left = outage - clock.Elapsed;
        if (left > TimeSpan.Zero)
        {
            await Task.Delay(left);
        }

        Assert.True((await env.Rabbit.QueueDepthAsync(env.VirtualHost, "consumers.jobs_error") ?? 0) == 0, "a delivery was dead-lettered during the outage");
        await postgres.StartAgainAsync();
        var back = Stopwatch.StartNew();
        await FaultChecks.AssertAllSucceededOnceAsync(env, jobs, TimeSpan.FromSeconds(180));
        output.WriteLine($"outage {outage.TotalSeconds:F0}s: all {jobs.Count} jobs finished {back.Elapsed.TotalSeconds:F1}s after PostgreSQL came back");
        output.WriteLine($"charged attempts beyond the first: {await env.CountAsync("SELECT coalesce(sum(attempt_count - uncharged_attempts - 1), 0) FROM jobs")}");
    }
}
