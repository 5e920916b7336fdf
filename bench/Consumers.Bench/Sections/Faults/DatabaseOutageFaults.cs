using System.Diagnostics;
using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;
using Consumers.Contracts;
using Consumers.Testing.Faults;

namespace Consumers.Bench.Sections.Faults;

/// <summary>
/// PostgreSQL stopped (pg_ctl stop -m fast) under two workers, on a private cluster of the bench's own (never the
/// shared one): 10 jobs of 4 s are submitted and running when it stops, 10 more are published as plain JSON during
/// the outage. Once it is back: how long until every job has finished ("drain"), and what was dead-lettered,
/// failed, lost or charged an extra attempt. One private cluster for all runs, fresh workers each run.
/// </summary>
public sealed class DatabaseOutageFaults
{
    public const int RunningJobs = 10;
    public const int PublishedJobs = 10;

    private readonly TimeSpan outage;

    private DatabaseOutageFaults(TimeSpan outage) => this.outage = outage;

    public string Name => string.Create(CultureInfo.InvariantCulture, $"database outage {(outage.TotalMinutes >= 1 ? $"{outage.TotalMinutes:F0} min" : $"{outage.TotalSeconds:F0} s")}");

    public static async Task MeasureAsync(BenchContext context, SectionResult result)
    {
        if (!PrivatePostgres.IsAvailable)
        {
            result.Notes.Add("database outage: not measured, PostgreSQL 15's initdb/pg_ctl are not installed here");
            return;
        }

        List<DatabaseOutageFaults> faults = [new(TimeSpan.FromSeconds(30))];
        if (context.Options.FaultLong)
        {
            faults.Add(new(TimeSpan.FromMinutes(5)));
        }
        else
        {
            result.Notes.Add("database outage 5 min: not run (it takes about 6 minutes per run; add --fault-long)");
        }

        await using var postgres = await PrivatePostgres.StartAsync();
        await using var environment = await BenchEnvironment.CreateAsync(context.Options.MaxAutoPrepare, postgres.AdminConnectionString);
        foreach (var fault in faults)
        {
            var runs = new List<OutageRun>();
            for (var run = 1; run <= context.Options.FaultRuns; run++)
            {
                var outcome = await fault.RunOnceAsync(environment, postgres, run);
                runs.Add(outcome);
                Progress.Line(string.Create(CultureInfo.InvariantCulture,
                    $"faults {fault.Name} {run}/{context.Options.FaultRuns}: drained {outcome.DrainSeconds:F1}s after the restart, error queue {outcome.ErrorQueueMessages}, " +
                    $"failed {outcome.FailedJobs}, lost {outcome.LostJobs}, charged extra attempts {outcome.ChargedExtraAttempts}"));
            }

            fault.Report(result, runs);
        }
    }

    private async Task<OutageRun> RunOnceAsync(BenchEnvironment environment, PrivatePostgres postgres, int run)
    {
        var tag = string.Create(CultureInfo.InvariantCulture, $"outage-{outage.TotalSeconds:F0}s-{run}");
        var down = false;
        try
        {
            var workers = new[] { await environment.StartWorkerAsync(tag + "-a", 4), await environment.StartWorkerAsync(tag + "-b", 4) };
            var deadBefore = await environment.Rabbit.QueueDepthAsync(environment.VirtualHost, "consumers.jobs_error") ?? 0;
            var jobs = new List<Guid>();
            for (var i = 0; i < RunningJobs; i++)
            {
                var job = new JobRequested
                {
                    JobId = Guid.NewGuid(),
                    Stage = "synthetic",
                    OutputKey = $"{tag}/running-{i}.json",
                    Parameters = new Dictionary<string, string> { ["durationMs"] = "4000", ["steps"] = "4" },
                };
                await environment.Store.SubmitAsync(job, 3, CancellationToken.None);
                jobs.Add(job.JobId);
            }

            if (!await Poll.UntilAsync(async () => await environment.ScalarAsync<long>(
                    "SELECT count(*) FROM jobs WHERE id = ANY(@ids) AND status = 'processing'", ("ids", jobs.ToArray())) >= 2, TimeSpan.FromSeconds(60)))
            {
                throw new InvalidOperationException($"{Name}: no job started before the outage");
            }

            var clock = Stopwatch.StartNew();
            down = true;
            await postgres.StopAsync();
            for (var i = 0; i < PublishedJobs; i++)
            {
                var id = Guid.NewGuid();
                await environment.Rabbit.PublishToQueueAsync(environment.VirtualHost, "consumers.jobs", SyntheticTrace.RequestBody(id, $"{tag}/published-{i}.json", 500));
                jobs.Add(id);
            }

            // The length of the fault: the rest of it after the stop and the publishes.
            var left = outage - clock.Elapsed;
            if (left > TimeSpan.Zero)
            {
                await Task.Delay(left);
            }

            var deadDuring = (await environment.Rabbit.QueueDepthAsync(environment.VirtualHost, "consumers.jobs_error") ?? 0) - deadBefore;
            await postgres.StartAgainAsync();
            down = false;
            var back = Stopwatch.StartNew();
            // The bench's own pooled connections did not survive the restart either.
            environment.DataSource.Clear();
            double? drain = null;
            if (await Poll.UntilAsync(async () => await environment.ScalarAsync<long>(
                    "SELECT count(*) FROM jobs WHERE id = ANY(@ids) AND status IN ('succeeded', 'failed')", ("ids", jobs.ToArray())) == jobs.Count,
                    TimeSpan.FromSeconds(300)))
            {
                drain = back.Elapsed.TotalSeconds;
            }

            var ids = ("ids", (object)jobs.ToArray());
            var failed = await environment.ScalarAsync<long>("SELECT count(*) FROM jobs WHERE id = ANY(@ids) AND status = 'failed'", ids);
            var twice = await environment.ScalarAsync<long>(
                "SELECT count(*) FROM (SELECT job_id FROM job_events WHERE job_id = ANY(@ids) AND type = 'completed' GROUP BY job_id HAVING count(*) > 1) d", ids);
            var unfinished = await environment.ScalarAsync<long>("SELECT count(*) FROM jobs WHERE id = ANY(@ids) AND status NOT IN ('succeeded', 'failed')", ids);
            var rows = await environment.ScalarAsync<long>("SELECT count(*) FROM jobs WHERE id = ANY(@ids)", ids);
            var charged = await environment.ScalarAsync<long>("SELECT coalesce(sum(attempt_count - uncharged_attempts - 1), 0) FROM jobs WHERE id = ANY(@ids)", ids);
            var dead = (await environment.Rabbit.QueueDepthAsync(environment.VirtualHost, "consumers.jobs_error") ?? 0) - deadBefore;
            return new OutageRun(drain, deadDuring, dead, failed + twice, jobs.Count - rows + unfinished, charged);
        }
        finally
        {
            // Also after a failure: the next run (and the disposal) needs the server up and no workers left.
            if (down)
            {
                await postgres.StartAgainAsync();
            }

            environment.DataSource.Clear();
            await environment.StopWorkersAsync();
        }
    }

    private void Report(SectionResult result, List<OutageRun> runs)
    {
        var drains = runs.Where(r => r.DrainSeconds is not null).Select(r => r.DrainSeconds!.Value).Order().ToList();
        var missing = runs.Count - drains.Count;
        result.Add($"{Name}: drain after restart p50", Stats.Percentile(drains, 50), "s",
            (missing > 0 ? $"{missing} runs not drained within 300 s; " : "") + $"{RunningJobs + PublishedJobs} jobs per run");
        result.Add($"{Name}: drain after restart max", drains.Count > 0 ? drains.Max() : null, "s");
        result.Add($"{Name}: charged extra attempts", runs.Sum(r => r.ChargedExtraAttempts), "attempts", "attempts beyond the first that counted against a job's limit");
        result.Add($"{Name}: dead-lettered during the outage", runs.Sum(r => r.DeadLetteredDuringOutage), "msgs").WithTarget("0", v => v == 0);
        FaultFigures.Losses(result, Name, runs.Sum(r => r.ErrorQueueMessages), runs.Sum(r => r.FailedJobs + r.LostJobs));
    }
}

/// <summary>
/// One outage: seconds from PostgreSQL accepting connections again to every job finished (null: not within the
/// bound), dead-lettered messages during the outage and in all, failed or twice-completed jobs, jobs lost or
/// never finished, attempts beyond the first that were charged.
/// </summary>
public sealed record OutageRun(double? DrainSeconds, long DeadLetteredDuringOutage, long ErrorQueueMessages, long FailedJobs, long LostJobs, long ChargedExtraAttempts);
