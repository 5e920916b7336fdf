using System.Diagnostics;
using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;
using Consumers.Runtime.Leases;

namespace Consumers.Bench.Sections;

/// <summary>
/// Time to recover a job whose worker was SIGKILLed mid-run: from the kill to the next attempt's <c>started</c>
/// and to <c>completed</c>, with two worker processes and the default lease settings. The worker holding the job
/// is found through <c>jobs.lease_owner</c>; a replacement worker is started after every kill.
/// </summary>
public static class RecoverySection
{
    public static async Task<SectionResult> RunAsync(BenchContext context)
    {
        var options = context.Options;
        var environment = context.Environment;
        var leases = new LeaseOptions();
        var result = new SectionResult("recovery") { Runs = options.RecoveryKills };
        result.Settings["workers"] = "2";
        result.Settings["jobDurationMs"] = options.RecoveryJobMilliseconds.ToString(CultureInfo.InvariantCulture);
        result.Settings["heartbeatInterval"] = leases.HeartbeatInterval.TotalSeconds.ToString(CultureInfo.InvariantCulture) + "s";
        result.Settings["leaseTimeout"] = leases.LeaseTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture) + "s";
        result.Settings["bound"] = options.RecoveryBoundSeconds.ToString(CultureInfo.InvariantCulture) + "s";

        var workers = new Dictionary<string, WorkerProcess>();
        var started = new List<double>();
        var completed = new List<double>();
        var generation = 0;
        async Task EnsureTwoWorkersAsync()
        {
            while (workers.Count < 2)
            {
                var id = $"bench-recovery-{++generation}";
                workers[id] = await environment.StartWorkerAsync(id, options.Concurrency, ThroughputSection.WorkerOverrides(options));
            }
        }

        string? unrecovered = null;
        for (var kill = 1; kill <= options.RecoveryKills; kill++)
        {
            await EnsureTwoWorkersAsync();
            var prefix = $"recovery-{kill}";
            var request = SyntheticJobs.Request(prefix, 0, options.RecoveryJobMilliseconds);
            await environment.Store.SubmitAsync(request, maxAttempts: 3, CancellationToken.None);

            var (owner, attempt) = await WaitForOwnerAsync(environment, request.JobId, TimeSpan.FromSeconds(60));
            if (owner is null || !workers.TryGetValue(owner, out var victim))
            {
                unrecovered = $"kill {kill}: the job was not picked up by a benchmark worker (owner {owner ?? "none"})";
                break;
            }

            // Kill mid-run: a quarter into the job, after at least one heartbeat could have renewed it.
            await Task.Delay(Math.Min(options.RecoveryJobMilliseconds / 4, 2000));
            var killedAt = DateTime.UtcNow;
            await victim.KillAsync();
            workers.Remove(owner);
            Progress.Line($"recovery {kill}/{options.RecoveryKills}: SIGKILLed {owner} holding attempt {attempt}; waiting for the next attempt");

            var (nextStarted, done) = await WaitForRecoveryAsync(environment, request.JobId, attempt, TimeSpan.FromSeconds(options.RecoveryBoundSeconds));
            if (nextStarted is null || done is null)
            {
                unrecovered = string.Create(CultureInfo.InvariantCulture,
                    $"kill {kill}: not recovered within {options.RecoveryBoundSeconds} s ({(nextStarted is null ? "no new attempt started" : "restarted but not completed")})");
                Progress.Line("recovery: " + unrecovered);
                break;
            }

            started.Add((nextStarted.Value - killedAt).TotalSeconds);
            completed.Add((done.Value - killedAt).TotalSeconds);
            Progress.Line(string.Create(CultureInfo.InvariantCulture,
                $"recovery {kill}/{options.RecoveryKills}: re-acquired after {started[^1]:F1}s, completed after {completed[^1]:F1}s"));
        }

        await environment.StopWorkersAsync();
        started.Sort();
        completed.Sort();
        result.Runs = started.Count;
        var note = unrecovered is null ? $"{started.Count} kills" : $"{started.Count} recovered; then {unrecovered}";
        result.Add("kill→next started p50", Stats.Percentile(started, 50), "s", note);
        result.Add("kill→next started p99", Stats.Percentile(started, 99), "s").WithTarget("< 20 s", v => v < 20);
        result.Add("kill→completed p50", Stats.Percentile(completed, 50), "s");
        result.Add("kill→completed p99", Stats.Percentile(completed, 99), "s");
        if (unrecovered is not null)
        {
            result.Notes.Add("Not recovered: " + unrecovered + ". The killed worker's delivery is redelivered at once, but the job row is still " +
                             "'processing' under the dead lease, so the redelivery is acknowledged as a conflict; only the recovery sweep " +
                             "(stale lease → requeued with a fresh JobRequested) brings the job back.");
        }

        result.Notes.Add("Kill time is taken right before SIGKILL; started/completed are the occurred_at of the next attempt's events.");
        return result;
    }

    private static async Task<(string? Owner, int Attempt)> WaitForOwnerAsync(BenchEnvironment environment, Guid jobId, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < bound)
        {
            string? owner = null;
            var attempt = 0;
            await environment.QueryAsync("SELECT lease_owner, attempt_count FROM jobs WHERE id = @id AND status = 'processing'",
                r =>
                {
                    owner = r.IsDBNull(0) ? null : r.GetString(0);
                    attempt = r.GetInt32(1);
                }, ("id", jobId));
            if (owner is not null)
            {
                return (owner, attempt);
            }

            await Task.Delay(50);
        }

        return (null, 0);
    }

    private static async Task<(DateTime? Started, DateTime? Completed)> WaitForRecoveryAsync(BenchEnvironment environment, Guid jobId, int attempt, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        DateTime? started = null;
        DateTime? completed = null;
        while (clock.Elapsed < bound)
        {
            await environment.QueryAsync(
                "SELECT min(occurred_at) FILTER (WHERE type = 'started' AND attempt > @attempt), min(occurred_at) FILTER (WHERE type = 'completed') " +
                "FROM job_events WHERE job_id = @id",
                r =>
                {
                    started = r.IsDBNull(0) ? null : r.GetDateTime(0);
                    completed = r.IsDBNull(1) ? null : r.GetDateTime(1);
                }, ("id", jobId), ("attempt", attempt));
            if (started is not null && completed is not null)
            {
                break;
            }

            await Task.Delay(100);
        }

        return (started, completed);
    }
}
