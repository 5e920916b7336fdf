using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;

namespace Consumers.Bench.Sections.Faults;

/// <summary>
/// Gray failures and outages, each injected <see cref="BenchOptions.FaultRuns"/> times against real worker processes
/// (<c>--faults</c> picks the kinds): a frozen or partitioned plain worker (<see cref="PlainWorkerFaults"/>) and relay
/// holder (<see cref="RelayHolderFaults"/>), PostgreSQL stopped for 30 s (and 5 min with <c>--fault-long</c>,
/// <see cref="DatabaseOutageFaults"/>), and the workers' RabbitMQ node killed (<see cref="BrokerNodeLossFaults"/>).
/// Targets: takeover p99 under 15 s, 0 dead-lettered, failed or lost.
/// </summary>
public static class FaultsSection
{
    public static async Task<SectionResult> RunAsync(BenchContext context)
    {
        var result = new SectionResult("faults") { Runs = context.Options.FaultRuns };
        var selected = context.Options.Faults;
        result.Settings["runsPerFault"] = context.Options.FaultRuns.ToString(CultureInfo.InvariantCulture);
        result.Settings["faults"] = string.Join(",", BenchOptions.AllFaults.Where(selected.Contains));
        result.Settings["leaseTimeout"] = "10s (default)";
        result.Settings["victimJobs"] = $"{PlainWorkerFaults.VictimJobs} x {PlainWorkerFaults.JobMilliseconds / 1000} s synthetic";

        var kinds = new (string Key, Func<BenchContext, SectionResult, Task> Measure)[]
        {
            ("plain", MeasurePlainAsync),
            ("relay", RelayHolderFaults.MeasureAsync),
            ("outage", DatabaseOutageFaults.MeasureAsync),
            ("broker", BrokerNodeLossFaults.MeasureAsync),
        };
        var failures = new List<string>();
        foreach (var (key, measure) in kinds.Where(k => selected.Contains(k.Key)))
        {
            // One kind failing (its set-up, say) still leaves the others' figures.
            try
            {
                await measure(context, result);
            }
            catch (Exception ex) when (ex is InvalidOperationException or Npgsql.NpgsqlException or HttpRequestException or TimeoutException or IOException)
            {
                Progress.Line($"faults {key} failed: {ex.Message}");
                failures.Add($"{key}: {ex.GetType().Name}: {ex.Message}");
                await context.Environment.StopWorkersAsync();
            }
        }

        if (selected.Contains("plain") || selected.Contains("relay"))
        {
            result.Notes.Add("Takeover: from the fault to the occurred_at of the first `started` of a later attempt of a job the victim held. " +
                             "Overlap: the victim attempt's last trace line (its work stopping) minus the successor's first, from the synthetic " +
                             "stage's traces on this machine's clock; negative means the victim stopped first. Relay lease takeover: from the fault " +
                             "to the first poll (every 200 ms) that finds a new generation held by the standby.");
        }

        if (failures.Count > 0)
        {
            // The run's exit code says a section failed; the figures measured before stay in the report.
            throw new SectionFailedException(result, "fault kinds failed: " + string.Join("; ", failures));
        }

        return result;
    }

    private static async Task MeasurePlainAsync(BenchContext context, SectionResult result)
    {
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

            FaultFigures.Takeover(result, $"{fault.Name}: takeover", runs.Select(r => r.TakeoverSeconds).ToList(), "runs never taken over");
            if (fault.MeasuresOverlap)
            {
                var overlaps = runs.Where(r => r.OverlapSeconds is not null).Select(r => r.OverlapSeconds!.Value).ToList();
                result.Add($"{fault.Name}: worst overlap", overlaps.Count > 0 ? overlaps.Max() : null, "s").WithTarget("<= 0", v => v <= 0.1);
            }

            FaultFigures.Losses(result, fault.Name, runs.Sum(r => r.ErrorQueueMessages), runs.Sum(r => r.FailedJobs + r.LostJobs));
        }
    }
}
