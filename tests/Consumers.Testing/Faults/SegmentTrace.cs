using System.Globalization;

namespace Consumers.Testing.Faults;

/// <summary>
/// What the segmented transcode writes when <c>Consumers:Media:SegmentTraceDirectory</c> is set: one file per job,
/// one line per step (<c>start</c>, <c>encode</c>, <c>recorded</c>, <c>join</c>, <c>joined</c>) with the attempt and
/// the segment index. Crash tests count from it which segments were encoded again.
/// </summary>
public sealed record SegmentTrace(string Step, int Attempt, int Index, int Count, DateTimeOffset At)
{
    public static IReadOnlyList<SegmentTrace> Read(string directory, Guid jobId)
    {
        var path = Path.Combine(directory, jobId.ToString("D") + ".segments");
        if (!File.Exists(path))
        {
            return [];
        }

        // A line being appended at this instant may be partial: only lines that end in a newline count.
        var lines = File.ReadAllText(path).Split('\n');
        return [.. lines[..^1].Select(TryParse).OfType<SegmentTrace>()];
    }

    private static SegmentTrace? TryParse(string line)
    {
        var parts = line.Split(' ');
        var fields = parts.Skip(1).Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        return fields.TryGetValue("attempt", out var attempt) && fields.TryGetValue("index", out var index)
               && fields.TryGetValue("count", out var count) && fields.TryGetValue("at", out var at)
               && long.TryParse(at, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms)
            ? new SegmentTrace(parts[0], int.Parse(attempt, CultureInfo.InvariantCulture), int.Parse(index, CultureInfo.InvariantCulture),
                int.Parse(count, CultureInfo.InvariantCulture), DateTimeOffset.FromUnixTimeMilliseconds(ms))
            : null;
    }
}
