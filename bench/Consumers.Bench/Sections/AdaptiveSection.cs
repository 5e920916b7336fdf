using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;
using Consumers.Contracts;
using Consumers.Runtime.Stages;

namespace Consumers.Bench.Sections;

/// <summary>
/// Fixed against adaptive slots on a mixed workload: CPU-heavy synthetic jobs (each burning a fixed amount of CPU,
/// standing in for encodes) interleaved with no-op jobs, all submitted before one worker starts. Reports the
/// makespan, the run time of each kind of job and the slots the controller chose.
/// </summary>
public static partial class AdaptiveSection
{
    public static async Task<SectionResult> RunAsync(BenchContext context)
    {
        var options = context.Options;
        var environment = context.Environment;
        var result = new SectionResult("adaptive") { Runs = 1 };
        result.Settings["heavyJobs"] = options.AdaptiveHeavyJobs.ToString(CultureInfo.InvariantCulture);
        result.Settings["heavyCpuMs"] = options.AdaptiveHeavyCpuMs.ToString(CultureInfo.InvariantCulture);
        result.Settings["lightJobs"] = options.AdaptiveLightJobs.ToString(CultureInfo.InvariantCulture);
        result.Settings["concurrency"] = options.Concurrency.ToString(CultureInfo.InvariantCulture);
        result.Settings["adaptive"] = "Interval=1s, CpuHigh=0.9, DecreaseFactor=0.75, floor 1";

        foreach (var adaptive in new[] { false, true })
        {
            var mode = adaptive ? "adaptive" : "fixed";
            var prefix = "adaptive-" + mode;
            await SubmitMixedAsync(environment, prefix, options);
            var overrides = new Dictionary<string, string?>(ThroughputSection.WorkerOverrides(options));
            if (adaptive)
            {
                overrides["Consumers:Flow:Adaptive:Enabled"] = "true";
                overrides["Consumers:Flow:Adaptive:Interval"] = "00:00:01";
            }

            var total = options.AdaptiveHeavyJobs + options.AdaptiveLightJobs;
            var worker = await environment.StartWorkerAsync($"bench-{prefix}", options.Concurrency, overrides);
            var slots = new List<double>();
            using var sampling = new CancellationTokenSource();
            var sampler = SampleSlotsAsync(worker, slots, sampling.Token);
            var finished = await SyntheticJobs.WaitFinishedAsync(environment, prefix, total, TimeSpan.FromMinutes(5), "adaptive " + mode);
            await sampling.CancelAsync();
            await sampler;
            await environment.StopWorkersAsync();
            if (!finished)
            {
                result.Add($"{mode}: makespan", null, "s", "not all jobs finished within 5 minutes");
                continue;
            }

            var (makespan, heavy, light) = await RunTimesAsync(environment, prefix);
            result.Add($"{mode}: makespan", makespan, "s", $"{total} jobs, first started .. last completed");
            result.Add($"{mode}: jobs/s", total / makespan, "jobs/s");
            result.Add($"{mode}: heavy job run time p50", Stats.Percentile(heavy, 50), "s", $"{heavy.Count} jobs, acquire .. finalize");
            result.Add($"{mode}: heavy job run time p95", Stats.Percentile(heavy, 95), "s");
            result.Add($"{mode}: no-op job run time p50", Stats.Percentile(light, 50) * 1000, "ms", $"{light.Count} jobs");
            result.Add($"{mode}: no-op job run time p95", Stats.Percentile(light, 95) * 1000, "ms");
            slots.Sort();
            result.Add($"{mode}: shared lane slots min / median", slots.Count == 0 ? null : slots[0], "slots",
                slots.Count == 0 ? "not sampled" : string.Create(CultureInfo.InvariantCulture, $"median {Stats.Median(slots):F0} of {slots.Count} samples every 250 ms"));
        }

        result.Notes.Add("Heavy jobs burn a fixed amount of their own thread's CPU time, so crowding stretches them as it would an encoder; " +
                         "no-op jobs are the throughput section's. One worker; jobs submitted (interleaved) before it starts.");
        return result;
    }

    private static async Task SubmitMixedAsync(BenchEnvironment environment, string prefix, BenchOptions options)
    {
        var total = options.AdaptiveHeavyJobs + options.AdaptiveLightJobs;
        var every = Math.Max(1, total / Math.Max(1, options.AdaptiveHeavyJobs));
        var heavyLeft = options.AdaptiveHeavyJobs;
        for (var i = 0; i < total; i++)
        {
            var request = SyntheticJobs.Request(prefix, i, 0);
            if (heavyLeft > 0 && (i % every == 0 || total - i <= heavyLeft))
            {
                heavyLeft--;
                request = request with
                {
                    Parameters = new Dictionary<string, string> { ["cpuMs"] = options.AdaptiveHeavyCpuMs.ToString(CultureInfo.InvariantCulture) },
                };
            }

            await environment.Store.SubmitAsync(request, maxAttempts: 3, CancellationToken.None);
        }
    }

    private static async Task SampleSlotsAsync(WorkerProcess worker, List<double> slots, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var match = SharedSlots().Match(await worker.ScrapeAsync());
                if (match.Success)
                {
                    slots.Add(double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
                }

                await Task.Delay(250, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (HttpRequestException)
            {
                // Not up yet, or already stopping.
            }
        }
    }

    private static async Task<(double Makespan, List<double> Heavy, List<double> Light)> RunTimesAsync(BenchEnvironment environment, string prefix)
    {
        var heavy = new List<double>();
        var light = new List<double>();
        DateTime? first = null;
        DateTime? last = null;
        await environment.QueryAsync(
            "SELECT j.request::text LIKE '%cpuMs%', s.occurred_at, c.occurred_at FROM jobs j " +
            "JOIN job_events s ON s.job_id = j.id AND s.type = 'started' JOIN job_events c ON c.job_id = j.id AND c.type = 'completed' " +
            "WHERE j.output_key LIKE @prefix",
            r =>
            {
                var started = r.GetDateTime(1);
                var completed = r.GetDateTime(2);
                (r.GetBoolean(0) ? heavy : light).Add((completed - started).TotalSeconds);
                first = first is null || started < first ? started : first;
                last = last is null || completed > last ? completed : last;
            }, ("prefix", prefix + "/%"));
        heavy.Sort();
        light.Sort();
        return (first is null ? double.NaN : (last!.Value - first.Value).TotalSeconds, heavy, light);
    }

    [GeneratedRegex(@"^worker_job_slots\{[^}]*lane=""shared""[^}]*\} ([0-9.]+)", RegexOptions.Multiline)]
    private static partial Regex SharedSlots();
}
