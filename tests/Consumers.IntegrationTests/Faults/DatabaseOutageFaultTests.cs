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
