using System.Diagnostics;
using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;
using Consumers.Runtime.Control;
using Npgsql;

namespace Consumers.Bench.Sections;

/// <summary>
/// The retention prune on a large table: fills the run's database with finished jobs (two events each) past their
/// retention, with one live job beside them, then deletes them in the retention job's own batches
/// (<see cref="Runtime.Jobs.JobStore.PruneFinishedAsync"/>, default batch size) until none is left. Reports the prune
/// rate, the longest batch (each batch is one statement in its own transaction, so it is the longest any
/// <c>jobs</c> row lock was held by the prune) and the worst wait of a probe that updates the live job row throughout,
/// as a worker's heartbeat would.
/// </summary>
public static class RetentionSection
{
    public const double TargetRowsPerSecond = 2_000;
    public static readonly TimeSpan TargetLongestBatch = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan TargetProbeWait = TimeSpan.FromMilliseconds(500);

    public static async Task<SectionResult> RunAsync(BenchContext context)
    {
        var environment = context.Environment;
        var rows = context.Options.RetentionJobs;
        var retention = new RetentionOptions();
        var result = new SectionResult("retention");
        result.Settings["finishedJobs"] = rows.ToString(CultureInfo.InvariantCulture);
        result.Settings["eventsPerJob"] = "2";
        result.Settings["batchSize"] = retention.BatchSize.ToString(CultureInfo.InvariantCulture);

        Progress.Line($"retention: filling {rows:N0} succeeded jobs (8 days old) and {2 * rows:N0} events");
        var fill = Stopwatch.StartNew();
        await using var admin = new NpgsqlConnection(environment.ConnectionString);
        await admin.OpenAsync();
        await FillAsync(admin, rows);
        var live = Guid.NewGuid();
        await ExecuteAsync(admin,
            "INSERT INTO jobs (id, stage, source, output_key, request, status, attempt_count, max_attempts, lease_token, lease_owner, last_heartbeat_at, created_at, updated_at) " +
            $"VALUES ('{live}', 'synthetic', '', 'live.json', '{{}}', 'processing', 1, 3, 1, 'bench-probe', now(), now(), now())");
        await ExecuteAsync(admin, "VACUUM ANALYZE jobs");
        await ExecuteAsync(admin, "VACUUM ANALYZE job_events");
        result.Add("fill time", fill.Elapsed.TotalSeconds, "s");

        using var stop = new CancellationTokenSource();
        var probe = Task.Run(() => ProbeAsync(environment.ConnectionString, live, stop.Token));
        var batches = new List<double>(rows / retention.BatchSize + 1);
        var deleted = 0L;
        var prune = Stopwatch.StartNew();
        while (true)
        {
            var batch = Stopwatch.StartNew();
            var counts = await environment.Store.PruneFinishedAsync(retention, CancellationToken.None);
            batches.Add(batch.Elapsed.TotalMilliseconds);
            var n = counts.Values.Sum();
            deleted += n;
            if (n < retention.BatchSize)
            {
                break;
            }

            if (batches.Count % 200 == 0)
            {
                Progress.Line($"retention: {deleted:N0} deleted, {deleted / prune.Elapsed.TotalSeconds:F0} jobs/s");
            }
        }

        prune.Stop();
        await stop.CancelAsync();
        var waits = await probe;
        var left = await environment.ScalarAsync<long>("SELECT count(*) FROM jobs");
        var eventsLeft = await environment.ScalarAsync<long>("SELECT count(*) FROM job_events");

        batches.Sort();
        waits.Sort();
        var rate = deleted / prune.Elapsed.TotalSeconds;
        result.Add("jobs deleted", deleted, "jobs");
        result.Add("prune time", prune.Elapsed.TotalSeconds, "s");
        result.Add("prune rate", rate, "jobs/s", Verdict(rate >= TargetRowsPerSecond, $"target >= {TargetRowsPerSecond:F0} jobs/s"));
        result.Add("prune rate with events", rate * 3, "rows/s", "each job takes its two events with it");
        result.Add("batch p50", Stats.Percentile(batches, 50), "ms");
        result.Add("batch p99", Stats.Percentile(batches, 99), "ms");
        var longest = batches[^1];
        result.Add("longest batch (longest lock on jobs rows)", longest, "ms",
            Verdict(longest <= TargetLongestBatch.TotalMilliseconds, $"target <= {TargetLongestBatch.TotalMilliseconds:F0} ms"));
        var worst = waits.Count == 0 ? (double?)null : waits[^1];
        result.Add("live-row update during prune: worst", worst, "ms",
            Verdict(worst <= TargetProbeWait.TotalMilliseconds, $"target <= {TargetProbeWait.TotalMilliseconds:F0} ms; {waits.Count} updates"));
        result.Add("live-row update during prune: p99", Stats.Percentile(waits, 99), "ms");
        if (left != 1 || eventsLeft != 0)
        {
            result.Notes.Add($"after the prune {left} jobs and {eventsLeft} events remain (expected only the live job)");
        }

        return result;
    }

    private static string Verdict(bool met, string target) => (met ? "met: " : "MISSED: ") + target;

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        // A chunk of the fill can outlast Npgsql's default 30 s on a busy machine.
        await using var command = new NpgsqlCommand(BenchEnvironment.OwnStatementMarker + sql, connection) { CommandTimeout = 600 };
        await command.ExecuteNonQueryAsync();
    }

    private static async Task FillAsync(NpgsqlConnection connection, int rows)
    {
        // Chunks keep each transaction and its WAL moderate; generate_series makes the rows in the server.
        const int Chunk = 100_000;
        for (var start = 0; start < rows; start += Chunk)
        {
            var end = Math.Min(rows, start + Chunk);
            await ExecuteAsync(connection,
                "WITH j AS (INSERT INTO jobs (id, stage, source, output_key, request, status, attempt_count, max_attempts, last_event_seq, " +
                "dispatched, created_at, updated_at, finished_at, artifact_key, artifact_size) " +
                "SELECT gen_random_uuid(), 'synthetic', '', 'retention/' || g || '.json', '{}'::jsonb, 'succeeded', 1, 3, 2, true, " +
                "now() - interval '8 days 1 hour', now() - interval '8 days', now() - interval '8 days', 'retention/' || g || '.json', 100 " +
                $"FROM generate_series({start}, {end - 1}) g RETURNING id, finished_at) " +
                "INSERT INTO job_events (job_id, seq, type, attempt, occurred_at, data) " +
                "SELECT id, s, CASE s WHEN 1 THEN 'requested' ELSE 'completed' END, CASE s WHEN 1 THEN 0 ELSE 1 END, finished_at, '{}'::jsonb " +
                "FROM j CROSS JOIN generate_series(1, 2) s");
            Progress.Line($"retention: {end:N0} of {rows:N0} filled");
        }
    }

    /// <summary>Updates the live row about every 20 ms on its own connection and records how long each update took.</summary>
    private static async Task<List<double>> ProbeAsync(string connectionString, Guid live, CancellationToken stop)
    {
        var waits = new List<double>();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(CancellationToken.None);
        await using var update = new NpgsqlCommand("UPDATE jobs SET last_heartbeat_at = now() WHERE id = @id", connection);
        update.Parameters.AddWithValue("id", live);
        while (!stop.IsCancellationRequested)
        {
            var clock = Stopwatch.StartNew();
            await update.ExecuteNonQueryAsync(CancellationToken.None);
            waits.Add(clock.Elapsed.TotalMilliseconds);
            await Task.Delay(20, CancellationToken.None);
        }

        return waits;
    }
}
