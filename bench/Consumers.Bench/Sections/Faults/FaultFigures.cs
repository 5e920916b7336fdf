using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;

namespace Consumers.Bench.Sections.Faults;

/// <summary>The figures every fault kind reports the same way, with their targets.</summary>
internal static class FaultFigures
{
    /// <summary>p50 and p99 of <paramref name="seconds"/> (null: never happened within the bound); p99 target under 15 s, every run counted.</summary>
    public static void Takeover(SectionResult result, string name, IReadOnlyList<double?> seconds, string missingNote)
    {
        var measured = seconds.Where(s => s is not null).Select(s => s!.Value).Order().ToList();
        var missing = seconds.Count - measured.Count;
        result.Add($"{name} p50", Stats.Percentile(measured, 50), "s", missing > 0 ? $"{missing} {missingNote}" : null);
        result.Add($"{name} p99", Stats.Percentile(measured, 99), "s").WithTarget("< 15 s", v => v < 15 && missing == 0);
    }

    /// <summary>Messages dead-lettered and jobs failed, lost or completed twice, summed over the runs: all targets 0.</summary>
    public static void Losses(SectionResult result, string fault, long deadLettered, long failedOrLost)
    {
        result.Add($"{fault}: dead-lettered", deadLettered, "msgs").WithTarget("0", v => v == 0);
        result.Add($"{fault}: failed or lost", failedOrLost, "jobs").WithTarget("0", v => v == 0);
    }
}
