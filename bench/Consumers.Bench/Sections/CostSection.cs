using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;

namespace Consumers.Bench.Sections;

/// <summary>
/// What a worker costs: resident memory idle and with a 10,000-job backlog, and database statements and
/// transactions per job (pg_stat_statements and pg_stat_database of the run's own database).
/// </summary>
public static class CostSection
{
    /// <summary>Long enough that no backlog job finishes while memory is sampled.</summary>
    private const int BacklogJobMilliseconds = 600_000;

    public static async Task<SectionResult> RunAsync(BenchContext context)
    {
        var options = context.Options;
        var environment = context.Environment;
        var result = new SectionResult("cost");
        result.Settings["concurrency"] = options.Concurrency.ToString(CultureInfo.InvariantCulture);
        result.Settings["backlogJobs"] = options.BacklogJobs.ToString(CultureInfo.InvariantCulture);
        result.Settings["backlogJobDurationMs"] = BacklogJobMilliseconds.ToString(CultureInfo.InvariantCulture);

        if (context.StatementCounts is null)
        {
            // The throughput section did not run: measure the statements on a smaller no-op batch of our own.
            var jobs = Math.Max(200, options.Jobs / 4);
            await ThroughputSection.RunBatchAsync(context, "cost-statements", jobs, 1, measureStatements: true);
        }

        if (context.StatementCounts is { } counts)
        {
            AddStatementFigures(result, counts);
        }
        else
        {
            result.Add("statements per job", null, "stmts", "not measured: pg_stat_statements is not available on this server");
        }

        var worker = await environment.StartWorkerAsync("bench-cost", options.Concurrency, ThroughputSection.WorkerOverrides(options));
        Progress.Line("cost: sampling idle memory after start-up");
        var cold = await SampleIdleAsync(worker);

        // The first jobs load and compile the job path; memory after them is the worker's working size.
        const int WarmupJobs = 200;
        Progress.Line($"cost: warm-up with {WarmupJobs} no-op jobs, then sampling idle memory again");
        await SyntheticJobs.SubmitAsync(environment, "cost-warmup", WarmupJobs, durationMs: 0);
        await SyntheticJobs.WaitFinishedAsync(environment, "cost-warmup", WarmupJobs, TimeSpan.FromSeconds(120), "cost warm-up");
        await SyntheticJobs.WaitOutboxEmptyAsync(environment, TimeSpan.FromSeconds(30));
        var afterBurst = await SampleIdleAsync(worker);

        // An idle worker compacts its heap once after IdleTrimAfter without a job; idle memory is what it keeps then.
        var trimAfter = IdleTrimAfter(options);
        Progress.Line($"cost: waiting {trimAfter.TotalSeconds:F0}s of idleness (Consumers:Worker:IdleTrimAfter), then sampling idle memory");
        await Task.Delay(trimAfter);
        var idle = await SampleIdleAsync(worker);

        Progress.Line($"cost: submitting a backlog of {options.BacklogJobs} jobs and sampling memory");
        var peak = 0L;
        var samples = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                if (worker.ResidentBytes() is { } bytes)
                {
                    peak = Math.Max(peak, bytes);
                    samples++;
                }

                await Task.Delay(250, sampling.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        });
        var submitRate = await SyntheticJobs.SubmitAsync(environment, "backlog", options.BacklogJobs, BacklogJobMilliseconds);
        await Task.Delay(TimeSpan.FromSeconds(options.BacklogSampleSeconds));
        var queued = await environment.Rabbit.QueueDepthAsync(environment.VirtualHost, "consumers.jobs") ?? 0;
        var outbox = await environment.ScalarAsync<long>("SELECT count(*) FROM outbox_messages WHERE message_type = 'JobRequested'");
        var running = await environment.ScalarAsync<long>("SELECT count(*) FROM jobs WHERE status = 'processing' AND output_key LIKE 'backlog/%'");
        await sampling.CancelAsync();
        await sampler;
        await worker.KillAsync();

        var idleBytes = Stats.Median(idle);
        var mib = 1024.0 * 1024;
        result.Add("worker RSS idle, cold", Stats.Median(cold) / mib, "MiB", $"median of {cold.Count} samples right after start-up").WithTarget("< 150 MiB", v => v < 150);
        result.Add("worker RSS right after a burst", Stats.Median(afterBurst) / mib, "MiB", $"median of {afterBurst.Count} samples 2-5 s after {WarmupJobs} no-op jobs");
        result.Add("worker RSS idle, warm", idleBytes / mib, "MiB",
            string.Create(CultureInfo.InvariantCulture, $"median of {idle.Count} samples after {WarmupJobs} no-op jobs and {trimAfter.TotalSeconds:F0} s more without work"))
            .WithTarget("< 150 MiB", v => v < 150);
        var backlogFigure = result.Add("worker RSS with backlog (peak)", peak / mib, "MiB",
            string.Create(CultureInfo.InvariantCulture, $"{samples} samples; at the end {queued} in the queue, {outbox} JobRequested still in the outbox, {running} running; submitted at {submitRate:F0}/s"));
        if (idleBytes is { } idleValue && idleValue > 0)
        {
            backlogFigure.WithTarget("<= 1.2 x warm idle", v => v * mib <= idleValue * 1.2);
            result.Add("backlog / warm idle RSS", peak / idleValue, "x");
        }

        return result;
    }

    private static TimeSpan IdleTrimAfter(BenchOptions options)
    {
        var configured = options.WorkerSettings.TryGetValue("Consumers:Worker:IdleTrimAfter", out var value)
                         && TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out var parsed)
            ? parsed
            : new Consumers.Runtime.Jobs.WorkerOptions().IdleTrimAfter;
        return configured > TimeSpan.Zero ? configured : TimeSpan.Zero;
    }

    private static async Task<List<double>> SampleIdleAsync(WorkerProcess worker)
    {
        await Task.Delay(TimeSpan.FromSeconds(2));
        var samples = new List<double>();
        for (var i = 0; i < 12; i++)
        {
            if (worker.ResidentBytes() is { } bytes)
            {
                samples.Add(bytes);
            }

            await Task.Delay(250);
        }

        return samples;
    }

    public static void AddStatementFigures(SectionResult result, StatementCounts counts)
    {
        Targets.AddAtMost(result, "statements per job", counts.StatementsPerJob, "stmts", Targets.StatementsPerJob,
            $"pg_stat_statements top-level calls over {counts.Jobs} no-op jobs incl. submit, relay, heartbeats, session resets (1 worker)");
        result.Add("  of which pool session resets", counts.SessionResetsPerJob, "stmts",
            "CLOSE ALL, RESET ALL, UNLISTEN *, ... sent by Npgsql when a pooled connection with prepared statements is reused");
        result.Add("  of which BEGIN and COMMIT", counts.TransactionControlPerJob, "stmts",
            "the explicit transactions' delimiters (the batched successes' and the relay's rounds); left out, " +
            (counts.StatementsPerJob - counts.TransactionControlPerJob).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) + " statements per job");
        Targets.AddAtMost(result, "transactions per job", counts.TransactionsPerJob, "commits", Targets.TransactionsPerJob,
            $"pg_stat_database xact_commit delta minus the benchmark's own; the design's own per job: submit 1 + acquire 1 + finalize 1 (+ relay batches)");
        foreach (var (query, perJob) in counts.Top)
        {
            result.Add("  per job: " + query, perJob, "calls");
        }
    }
}
