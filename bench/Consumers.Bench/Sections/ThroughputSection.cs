using System.Diagnostics;
using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;

namespace Consumers.Bench.Sections;

/// <summary>
/// Saturation throughput of the whole path with full resilience on: N no-op synthetic jobs are submitted while no
/// worker runs (they wait in the outbox), then 1 (and 2) real <c>consumers run</c> processes start and the jobs
/// are timed from the first <c>started</c> to the last <c>completed</c> event.
/// </summary>
public static class ThroughputSection
{
    /// <summary>Commits the design makes per job while it runs: the acquire and the finalize (submit happens before).</summary>
    public const int CommitsPerJob = 2;

    public static async Task<SectionResult> RunAsync(BenchContext context)
    {
        var options = context.Options;
        var result = new SectionResult("throughput") { Runs = options.ThroughputRuns };
        result.Settings["jobs"] = options.Jobs.ToString(CultureInfo.InvariantCulture);
        result.Settings["concurrency"] = options.Concurrency.ToString(CultureInfo.InvariantCulture);
        result.Settings["prefetch"] = options.Prefetch.ToString(CultureInfo.InvariantCulture);
        result.Settings["maxAutoPrepare"] = options.MaxAutoPrepare.ToString(CultureInfo.InvariantCulture);
        result.Settings["commitsPerJob(design)"] = CommitsPerJob.ToString(CultureInfo.InvariantCulture);

        var first = true;
        double? best = null;
        foreach (var workers in options.WorkerCounts)
        {
            var rates = new List<double>();
            var notes = new List<string>();
            CpuSnapshot? cpu = null;
            for (var run = 1; run <= options.ThroughputRuns; run++)
            {
                var batch = await RunBatchAsync(context, $"tp-w{workers}-r{run}", options.Jobs, workers, measureStatements: first);
                first = false;
                if (batch.JobsPerSecond is { } rate)
                {
                    rates.Add(rate);
                }

                notes.Add(batch.Describe());
                cpu ??= batch.CpuPerJob;
            }

            var median = Stats.Median(rates);
            if (workers == 1)
            {
                context.OneWorkerSaturation = median;
            }

            var label = workers == 1 ? "1 worker" : $"{workers} workers";
            result.Add($"no-op jobs/s, {label}", median, "jobs/s", string.Join("; ", notes));
            AddRatios(result, context, label, median);
            if (cpu is not null)
            {
                result.Add($"CPU per job, {label}", cpu.Total.TotalMilliseconds, "ms", cpu.Describe());
                Targets.AddAtMost(result, $"  worker + PostgreSQL + RabbitMQ, {label}", cpu.WithoutBench.TotalMilliseconds, "ms", Targets.CpuMillisecondsPerJob,
                    "the benchmark's own polling left out");
            }

            if (median is { } rateOfThese && rateOfThese > (best ?? 0))
            {
                best = rateOfThese;
            }
        }

        if (options.HangfireJobs > 0)
        {
            await AddPeerAsync(context, result, best);
        }

        result.Notes.Add("Each job: submit (1 transaction, before the timed window), relay publish of JobRequested with confirm, delivery, acquire " +
                         "(1 transaction), synthetic stage writing a small file, artifact commit (rename into staging + fsync + link), finalize (1 transaction), " +
                         "3 timeline events relayed to consumers.timeline; heartbeat every 2 s.");
        if (context.StatementCounts is { } counts && !options.Sections.Contains("cost"))
        {
            CostSection.AddStatementFigures(result, counts);
        }

        return result;
    }

    /// <summary>Hangfire on the same PostgreSQL at its defaults and with a 50 ms poll; our best rate of this section against its best.</summary>
    private static async Task AddPeerAsync(BenchContext context, SectionResult result, double? ours)
    {
        var jobs = context.Options.HangfireJobs;
        result.Settings["hangfireJobs"] = jobs.ToString(CultureInfo.InvariantCulture);
        var runs = new[]
        {
            await HangfirePeer.RunAsync(context.Environment, "defaults", "hangfire_defaults", jobs, pollMilliseconds: 0),
            await HangfirePeer.RunAsync(context.Environment, "50 ms poll", "hangfire_poll50", jobs, pollMilliseconds: 50),
        };
        foreach (var run in runs)
        {
            result.Add($"Hangfire 1.8.25 + PostgreSql 1.21.1 no-op jobs/s, {run.Label}", run.JobsPerSecond, "jobs/s", run.Describe());
        }

        var peerBest = runs.Select(r => r.JobsPerSecond).Max();
        Targets.AddAtLeast(result, "ours / Hangfire (best of each)", ours, peerBest, Targets.PeerRatio,
            string.Create(CultureInfo.InvariantCulture, $"ours {ours:F0} jobs/s (best worker count above), Hangfire {peerBest:F0} jobs/s; both first start → last finish"));
    }

    private static void AddRatios(SectionResult result, BenchContext context, string label, double? rate)
    {
        if (rate is not { } jobs)
        {
            return;
        }

        if (context.BareConsumerRate is { } bare)
        {
            result.Add($"ratio to (a) bare consumer, {label}", jobs / bare, "x");
        }

        if (context.ConsumerWithUpdateRate is { } update)
        {
            result.Add($"ratio to (b) consumer + update, {label}", jobs / update, "x").WithTarget(">= 0.5", v => v >= 0.5);
        }

        if (context.RawCommitRate is { } commits)
        {
            result.Add($"ratio to (c) commits/s / {CommitsPerJob}, {label}", jobs / (commits / CommitsPerJob), "x",
                    string.Create(CultureInfo.InvariantCulture, $"ceiling {commits / CommitsPerJob:F0} jobs/s"))
                .WithTarget(">= 0.6", v => v >= 0.6);
        }
    }

    public sealed record BatchResult(double? JobsPerSecond, double SubmitRate, double WallSeconds, double? OutboxLagSeconds, bool Finished, CpuSnapshot CpuPerJob)
    {
        public string Describe() => string.Create(CultureInfo.InvariantCulture,
            $"{(Finished ? "" : "NOT FINISHED; ")}submit {SubmitRate:F0}/s, wall incl. start-up {WallSeconds:F1}s, " +
            $"outbox empty {(OutboxLagSeconds is { } lag ? lag.ToString("F1", CultureInfo.InvariantCulture) + "s" : "n/a")} after last success");
    }

    /// <summary>One timed batch of no-op jobs with fresh worker processes, stopped afterwards.</summary>
    public static async Task<BatchResult> RunBatchAsync(BenchContext context, string prefix, int jobs, int workers, bool measureStatements)
    {
        var environment = context.Environment;
        var options = context.Options;
        var canCount = measureStatements && environment.HasStatementStatistics;
        long transactionsBefore = 0;
        long ownBefore = 0;
        if (canCount)
        {
            await environment.ScalarAsync<long>(
                "SELECT count(*) FROM (SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)) r");
            transactionsBefore = await CommittedTransactionsAsync(environment);
            ownBefore = environment.OwnTransactions;
        }

        Progress.Line($"throughput {prefix}: submitting {jobs} no-op jobs with no worker running");
        var submitRate = await SyntheticJobs.SubmitAsync(environment, prefix, jobs, durationMs: 0);
        Progress.Line(string.Create(CultureInfo.InvariantCulture, $"throughput {prefix}: submitted at {submitRate:F0}/s; starting {workers} worker process(es)"));

        var wall = Stopwatch.StartNew();
        var started = await Task.WhenAll(Enumerable.Range(1, workers).Select(k =>
            environment.StartWorkerAsync($"bench-{prefix}-{k}", options.Concurrency, WorkerOverrides(options))));
        var cpuBefore = CpuSnapshot.Take(environment, started);
        var bound = TimeSpan.FromSeconds(Math.Max(180, jobs / 5.0));
        var finished = await SyntheticJobs.WaitFinishedAsync(environment, prefix, jobs, bound, "throughput " + prefix);
        var wallSeconds = wall.Elapsed.TotalSeconds;
        var cpu = CpuSnapshot.Take(environment, started).Minus(cpuBefore).PerJob(jobs);

        double? rate = null;
        DateTime? firstStarted = null;
        DateTime? lastCompleted = null;
        long completed = 0;
        await environment.QueryAsync(
            "SELECT min(e.occurred_at) FILTER (WHERE e.type = 'started'), max(e.occurred_at) FILTER (WHERE e.type = 'completed'), " +
            "count(*) FILTER (WHERE e.type = 'completed') FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE j.output_key LIKE @prefix",
            r =>
            {
                firstStarted = r.IsDBNull(0) ? null : r.GetDateTime(0);
                lastCompleted = r.IsDBNull(1) ? null : r.GetDateTime(1);
                completed = r.GetInt64(2);
            }, ("prefix", prefix + "/%"));
        if (finished && firstStarted is { } from && lastCompleted is { } to && to > from)
        {
            rate = completed / (to - from).TotalSeconds;
        }

        var outboxLag = await SyntheticJobs.WaitOutboxEmptyAsync(environment, TimeSpan.FromSeconds(60));
        if (canCount)
        {
            // Backends flush their transaction counters about once a second when idle.
            await Task.Delay(TimeSpan.FromSeconds(2));
            context.StatementCounts = await ReadStatementCountsAsync(environment, jobs, transactionsBefore, ownBefore);
        }

        await environment.StopWorkersAsync();
        Progress.Line(string.Create(CultureInfo.InvariantCulture,
            $"throughput {prefix}: {(rate is { } r2 ? r2.ToString("F0", CultureInfo.InvariantCulture) : "n/a")} jobs/s with {workers} worker(s)"));
        return new BatchResult(rate, submitRate, wallSeconds, outboxLag?.TotalSeconds, finished, cpu);
    }

    /// <summary>
    /// CPU used so far by the worker processes, the PostgreSQL cluster (postmaster and backends, shared with anyone else
    /// using the stack), the broker node (likewise shared) and the benchmark itself.
    /// </summary>
    public sealed record CpuSnapshot(TimeSpan Workers, TimeSpan Postgres, TimeSpan Broker, TimeSpan Bench)
    {
        public TimeSpan Total => Workers + Postgres + Broker + Bench;

        public static CpuSnapshot Take(BenchEnvironment environment, IEnumerable<WorkerProcess> workers) => new(
            workers.Aggregate(TimeSpan.Zero, (sum, w) => sum + (ProcessCpu.Of(w.Pid) ?? TimeSpan.Zero)),
            environment.PostgresPid is { } pg ? ProcessCpu.TreeOf(pg) : TimeSpan.Zero,
            environment.BrokerPid is { } broker ? ProcessCpu.Of(broker) ?? TimeSpan.Zero : TimeSpan.Zero,
            Process.GetCurrentProcess().TotalProcessorTime);

        public CpuSnapshot Minus(CpuSnapshot before) =>
            new(Workers - before.Workers, Postgres - before.Postgres, Broker - before.Broker, Bench - before.Bench);

        /// <summary>What the job path costs: the worker, PostgreSQL and RabbitMQ, without the benchmark's own polling.</summary>
        public TimeSpan WithoutBench => Workers + Postgres + Broker;

        public CpuSnapshot PerJob(int jobs) => new(Workers / jobs, Postgres / jobs, Broker / jobs, Bench / jobs);

        public string Describe() => string.Create(CultureInfo.InvariantCulture,
            $"worker {Workers.TotalMilliseconds:F2} + PostgreSQL {Postgres.TotalMilliseconds:F2} + RabbitMQ {Broker.TotalMilliseconds:F2} + bench {Bench.TotalMilliseconds:F2} ms (start→all succeeded)");
    }

    /// <summary>The settings every benchmark worker gets beyond its environment.</summary>
    public static IReadOnlyDictionary<string, string?> WorkerOverrides(BenchOptions options) => options.WorkerSettings;

    private static Task<long> CommittedTransactionsAsync(BenchEnvironment environment) =>
        environment.ScalarAsync<long>("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");

    /// <summary>What Npgsql sends when a pooled connection that has prepared statements is reused (instead of DISCARD ALL).</summary>
    private static readonly string[] SessionResetStatements =
        ["CLOSE ALL", "SET SESSION AUTHORIZATION DEFAULT", "RESET ALL", "UNLISTEN *", "SELECT pg_advisory_unlock_all()", "DISCARD SEQUENCES", "DISCARD TEMP", "DISCARD ALL"];

    /// <summary>Statements that open or end an explicit transaction (counted as transactions too).</summary>
    private static readonly string[] TransactionControl = ["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"];

    private static async Task<StatementCounts> ReadStatementCountsAsync(BenchEnvironment environment, int jobs, long transactionsBefore, long ownBefore)
    {
        var top = new List<(string Query, double PerJob)>();
        long all = 0;
        long resets = 0;
        long control = 0;
        await environment.QueryAsync(
            "SELECT calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_statements " +
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND toplevel " +
            "AND query NOT LIKE '%/* bench */%' AND query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC",
            r =>
            {
                var calls = r.GetInt64(0);
                var query = r.GetString(1);
                all += calls;
                if (SessionResetStatements.Contains(query.Trim(), StringComparer.OrdinalIgnoreCase))
                {
                    resets += calls;
                }
                else if (TransactionControl.Any(c => query.TrimStart().StartsWith(c, StringComparison.OrdinalIgnoreCase)))
                {
                    control += calls;
                }
                else if (top.Count < 8)
                {
                    top.Add((query, calls / (double)jobs));
                }
            });
        var ownTransactions = environment.OwnTransactions - ownBefore + 1;
        var transactions = await CommittedTransactionsAsync(environment) - transactionsBefore - ownTransactions;
        return new StatementCounts(all / (double)jobs, resets / (double)jobs, control / (double)jobs, transactions / (double)jobs, top, jobs);
    }
}
