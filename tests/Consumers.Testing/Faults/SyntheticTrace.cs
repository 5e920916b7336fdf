using System.Globalization;
using System.Text.Json;

namespace Consumers.Testing.Faults;

/// <summary>
/// What the synthetic stage writes when <c>Consumers:Synthetic:TraceDirectory</c> is set: one file per job, one line
/// when an attempt's work starts (<c>start attempt=1 at=…</c>) and one when it stops (<c>end … outcome=cancelled</c>),
/// on this machine's clock. Fault tests and the bench read it to see whether two attempts of a job ever worked at once.
/// </summary>
public sealed record SyntheticTrace(string Step, int Attempt, DateTimeOffset At, string? Outcome)
{
    /// <summary>Every line of <paramref name="jobId"/>'s trace in <paramref name="directory"/>; empty when it has none.</summary>
    public static IReadOnlyList<SyntheticTrace> Read(string directory, Guid jobId)
    {
        var path = Path.Combine(directory, jobId.ToString("D") + ".trace");
        return File.Exists(path) ? [.. File.ReadAllLines(path).Select(Parse)] : [];
    }

    public static SyntheticTrace Parse(string line)
    {
        var parts = line.Split(' ');
        var fields = parts.Skip(1).Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        return new SyntheticTrace(
            parts[0],
            int.Parse(fields["attempt"], CultureInfo.InvariantCulture),
            DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(fields["at"], CultureInfo.InvariantCulture)),
            fields.GetValueOrDefault("outcome"));
    }

    /// <summary>A plain-JSON synthetic request (as a producer in any language would publish it) that reports progress every second.</summary>
    public static string RequestBody(Guid jobId, string outputKey, int durationMs) => JsonSerializer.Serialize(new
    {
        jobId,
        stage = "synthetic",
        outputKey,
        parameters = new Dictionary<string, string>
        {
            ["durationMs"] = durationMs.ToString(CultureInfo.InvariantCulture),
            ["steps"] = Math.Max(1, durationMs / 1000).ToString(CultureInfo.InvariantCulture),
        },
    });
}
