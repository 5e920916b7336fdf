using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;

namespace Consumers.Bench.Sections;

/// <summary>
/// Latency at a fixed offered rate (default half the one-worker saturation of this run): submit→started and
/// submit→completed from the timeline in the database, and outbox commit→publish from the worker's histogram
/// and from a real subscriber of the published timeline.
/// </summary>
public static class LatencySection
{
    private const string HistogramPrefix = "outbox_publish_latency";

    /// <summary>Jobs of the warm-up burst: enough for the runtime to finish compiling the job path.</summary>
    private const int WarmupBurst = 3000;

    public static async Task<SectionResult> RunAsync(BenchContext context)
    {
        var options = context.Options;
        var environment = context.Environment;
        var result = new SectionResult("latency");
        var rate = options.LatencyRate ?? (context.OneWorkerSaturation is { } saturation ? saturation / 2 : 50);
        var rateSource = options.LatencyRate is not null ? "given" : context.OneWorkerSaturation is not null ? "half the 1-worker saturation" : "assumed (no throughput section)";
        var jobs = Math.Max(20, (int)Math.Round(rate * options.LatencySeconds));
        result.Settings["offeredRate"] = string.Create(CultureInfo.InvariantCulture, $"{rate:F0}/s ({rateSource})");
        result.Settings["jobs"] = jobs.ToString(CultureInfo.InvariantCulture);
        result.Settings["workers"] = "1";
        result.Settings["concurrency"] = options.Concurrency.ToString(CultureInfo.InvariantCulture);

        await using var subscriber = await TimelineSubscriber.StartAsync(environment);
        var worker = await environment.StartWorkerAsync("bench-latency", options.Concurrency, ThroughputSection.WorkerOverrides(options));

        // Warm-up to the steady state the saturation figure was measured in (the throughput section's 10,000 jobs):
        // a burst that the runtime compiles the job path on, then two seconds at the offered rate.
        Progress.Line($"latency: warm-up with a burst of {WarmupBurst} jobs");
        await SyntheticJobs.SubmitAsync(environment, "lat-burst", WarmupBurst, durationMs: 0);
        await SyntheticJobs.WaitFinishedAsync(environment, "lat-burst", WarmupBurst, TimeSpan.FromSeconds(180), "latency warm-up burst");
        var warmup = Math.Max(20, (int)rate * 2);
        Progress.Line($"latency: warm-up with {warmup} jobs at the offered rate");
        await SubmitPacedAsync(environment, "lat-warmup", warmup, rate);
        await SyntheticJobs.WaitFinishedAsync(environment, "lat-warmup", warmup, TimeSpan.FromSeconds(120), "latency warm-up");
        await SyntheticJobs.WaitOutboxEmptyAsync(environment, TimeSpan.FromSeconds(30));
        var before = Stats.ParseHistogram(await worker.ScrapeAsync(), HistogramPrefix);

        Progress.Line(string.Create(CultureInfo.InvariantCulture, $"latency: offering {rate:F0} jobs/s for {options.LatencySeconds}s ({jobs} jobs)"));
        var (submittedAt, achievedRate) = await SubmitPacedAsync(environment, "lat", jobs, rate);
        var finished = await SyntheticJobs.WaitFinishedAsync(environment, "lat", jobs, TimeSpan.FromSeconds(180), "latency");
        await SyntheticJobs.WaitOutboxEmptyAsync(environment, TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(1));
        var after = Stats.ParseHistogram(await worker.ScrapeAsync(), HistogramPrefix);
        await environment.StopWorkersAsync();

        var toStarted = new List<double>();
        var toCompleted = new List<double>();
        await environment.QueryAsync(
            "SELECT j.id, e.type, e.occurred_at FROM job_events e JOIN jobs j ON j.id = e.job_id " +
            "WHERE j.output_key LIKE @prefix AND e.type IN ('started', 'completed')",
            r =>
            {
                if (!submittedAt.TryGetValue(r.GetGuid(0), out var submitted))
                {
                    return;
                }

                var milliseconds = (r.GetDateTime(2) - submitted.UtcDateTime).TotalMilliseconds;
                (r.GetString(1) == "started" ? toStarted : toCompleted).Add(milliseconds);
            }, ("prefix", "lat/%"));
        toStarted.Sort();
        toCompleted.Sort();

        result.Add("achieved submit rate", achievedRate, "jobs/s", finished ? null : "NOT all jobs finished within 180 s");
        AddPercentiles(result, "submit→started", toStarted, null, null);
        AddPercentiles(result, "submit→completed", toCompleted, 20, 100);

        var delta = Stats.Subtract(after, before);
        result.Add("outbox commit→confirm p50 (worker histogram)", Stats.HistogramPercentile(delta, 50) * 1000, "ms",
            string.Create(CultureInfo.InvariantCulture, $"{Stats.Count(delta):F0} publishes; interpolated in buckets 1/2.5/5/10/25/50/100 ms"));
        result.Add("outbox commit→confirm p99 (worker histogram)", Stats.HistogramPercentile(delta, 99) * 1000, "ms")
            .WithTarget("< 100 ms", v => v < 100);

        var ids = submittedAt.Keys.ToHashSet();
        var published = subscriber.Received.Where(r => ids.Contains(r.Event.JobId))
            .Select(r => (r.ReceivedAt - r.Event.OccurredAt).TotalMilliseconds).Order().ToList();
        result.Add("event occurredAt→subscriber p50", Stats.Percentile(published, 50), "ms", $"{published.Count} timeline events received");
        result.Add("event occurredAt→subscriber p99", Stats.Percentile(published, 99), "ms").WithTarget("< 100 ms", v => v < 100);

        result.Notes.Add("Submit time is taken in the benchmark right before JobStore.SubmitAsync; started/completed are the occurred_at of " +
                         "those events (the time of the acquire / finalize transaction) on the same host clock.");
        result.Notes.Add("The worker histogram measures outbox row created_at (its transaction's time) to broker confirm; the subscriber figure " +
                         "adds routing and delivery to a real consumer of consumers.timeline.");
        return result;
    }

    private static void AddPercentiles(SectionResult result, string name, List<double> sorted, double? p50Target, double? p99Target)
    {
        var p50 = result.Add($"{name} p50", Stats.Percentile(sorted, 50), "ms", $"{sorted.Count} jobs");
        if (p50Target is { } t50)
        {
            p50.WithTarget($"< {t50} ms", v => v < t50);
        }

        result.Add($"{name} p95", Stats.Percentile(sorted, 95), "ms");
        var p99 = result.Add($"{name} p99", Stats.Percentile(sorted, 99), "ms");
        if (p99Target is { } t99)
        {
            p99.WithTarget($"< {t99} ms", v => v < t99);
        }
    }

    /// <summary>
    /// Open-loop submission: job i is submitted at start + i/rate whatever happened to the earlier ones, so a slow
    /// submit does not lower the offered rate. Returns each job's submit time and the rate actually achieved.
    /// </summary>
    private static async Task<(ConcurrentDictionary<Guid, DateTimeOffset> SubmittedAt, double AchievedRate)> SubmitPacedAsync(
        BenchEnvironment environment, string prefix, int count, double rate)
    {
        var submittedAt = new ConcurrentDictionary<Guid, DateTimeOffset>();
        var pending = new List<Task>(count);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var due = TimeSpan.FromSeconds(i / rate);
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait);
            }

            var request = SyntheticJobs.Request(prefix, i, durationMs: 0);
            submittedAt[request.JobId] = DateTimeOffset.UtcNow;
            pending.Add(environment.Store.SubmitAsync(request, maxAttempts: 3, CancellationToken.None));
        }

        await Task.WhenAll(pending);
        return (submittedAt, count / Math.Max(clock.Elapsed.TotalSeconds, 1e-3));
    }
}
