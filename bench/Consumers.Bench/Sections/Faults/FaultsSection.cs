using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;

namespace Consumers.Bench.Sections.Faults;

/// <summary>
/// Gray failures, each injected <see cref="BenchOptions.FaultRuns"/> times against real worker processes: a frozen
/// (SIGSTOP) worker and a worker whose path to PostgreSQL goes silent without closing. For each: the time until
/// another worker starts the victim's jobs, the overlap between the cut-off attempt and its successor, and the jobs
/// that were lost, failed or dead-lettered (targets: takeover p99 under 15 s, everything else 0).
/// </summary>
public static class FaultsSection
{
    public static async Task<SectionResult> RunAsync(BenchContext context)
    {
        var result = new SectionResult("faults") { Runs = context.Options.FaultRuns };
        result.Settings["runsPerFault"] = context.Options.FaultRuns.ToString(CultureInfo.InvariantCulture);
        result.Settings["leaseTimeout"] = "10s (default)";
        result.Settings["victimJobs"] = $"{PlainWorkerFaults.VictimJobs} x {PlainWorkerFaults.JobMilliseconds / 1000} s synthetic";

        foreach (var fault in PlainWorkerFaults.All)
        {
            var runs = new List<FaultRun>();
            for (var run = 1; run <= context.Options.FaultRuns; run++)
            {
                var outcome = await fault.RunOnceAsync(context.Environment, run);
                runs.Add(outcome);
                Progress.Line(string.Create(CultureInfo.InvariantCulture,
                    $"faults {fault.Name} {run}/{context.Options.FaultRuns}: takeover {outcome.TakeoverSeconds:F1}s, overlap {outcome.OverlapSeconds:F2}s, " +
                    $"error queue {outcome.ErrorQueueMessages}, failed {outcome.FailedJobs}, lost {outcome.LostJobs}"));
            }

            Report(result, fault.Name, runs, fault.MeasuresOverlap);
        }

        result.Notes.Add("Takeover: from the fault to the occurred_at of the first `started` of a later attempt of a job the victim held. " +
                         "Overlap: the victim attempt's last trace line (its work stopping) minus the successor's first, from the synthetic " +
                         "stage's traces on this machine's clock; negative means the victim stopped first.");
        return result;
    }

    private static void Report(SectionResult result, string fault, List<FaultRun> runs, bool measuresOverlap)
    {
        var takeovers = runs.Where(r => r.TakeoverSeconds is not null).Select(r => r.TakeoverSeconds!.Value).Order().ToList();
        var missing = runs.Count - takeovers.Count;
        result.Add($"{fault}: takeover p50", Stats.Percentile(takeovers, 50), "s", missing > 0 ? $"{missing} runs never taken over" : null);
        result.Add($"{fault}: takeover p99", Stats.Percentile(takeovers, 99), "s").WithTarget("< 15 s", v => v < 15 && missing == 0);
        if (measuresOverlap)
        {
            var overlaps = runs.Where(r => r.OverlapSeconds is not null).Select(r => r.OverlapSeconds!.Value).ToList();
            result.Add($"{fault}: worst overlap", overlaps.Count > 0 ? overlaps.Max() : null, "s").WithTarget("<= 0", v => v <= 0.1);
        }

        result.Add($"{fault}: dead-lettered", runs.Sum(r => r.ErrorQueueMessages), "msgs").WithTarget("0", v => v == 0);
        result.Add($"{fault}: failed or lost", runs.Sum(r => r.FailedJobs + r.LostJobs), "jobs").WithTarget("0", v => v == 0);
    }
}
