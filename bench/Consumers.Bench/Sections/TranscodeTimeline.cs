namespace Consumers.Bench.Sections;

/// <summary>
/// What the timeline of a batch of jobs says about where their time went: the batch window (first <c>started</c> to
/// last <c>completed</c>), each job's own wall (its <c>started</c> to its <c>completed</c>), and the slot hand-offs
/// (a job's <c>started</c> after the completion that freed its slot, for every job past the first
/// slots), and how far apart the first wave of jobs (one per slot) started.
/// </summary>
public sealed record TranscodeTimeline(
    DateTime? FirstStarted, DateTime? LastCompleted, IReadOnlyList<double> JobWallSeconds, IReadOnlyList<double> HandOffSeconds, int ProgressEvents, int Completed,
    double? FirstWaveSpreadSeconds)
{
    public double? WindowSeconds => FirstStarted is { } from && LastCompleted is { } to && to > from ? (to - from).TotalSeconds : null;

    /// <param name="events">Every event of the batch's jobs: job id, type, occurred_at.</param>
    /// <param name="slots">Jobs that ran at once (the lane's slots).</param>
    public static TranscodeTimeline From(IEnumerable<(Guid Job, string Type, DateTime At)> events, int slots)
    {
        var list = events.ToList();
        // The last attempt's started of each job (a retried job starts more than once).
        var started = list.Where(e => e.Type == "started").GroupBy(e => e.Job).ToDictionary(g => g.Key, g => g.Max(e => e.At));
        var completed = list.Where(e => e.Type == "completed").GroupBy(e => e.Job).ToDictionary(g => g.Key, g => g.Min(e => e.At));
        var walls = completed.Where(c => started.ContainsKey(c.Key)).Select(c => (c.Value - started[c.Key]).TotalSeconds).Order().ToList();

        var starts = started.Values.Order().ToList();
        var ends = completed.Values.Order().ToList();
        var handOffs = new List<double>();
        for (var k = slots; k < starts.Count && k - slots < ends.Count; k++)
        {
            // The k-th start (0-based) waited for the (k - slots)-th completion to free a slot.
            handOffs.Add(Math.Max(0, (starts[k] - ends[k - slots]).TotalSeconds));
        }

        return new TranscodeTimeline(
            starts.Count > 0 ? starts[0] : null,
            ends.Count > 0 ? ends[^1] : null,
            walls,
            handOffs,
            list.Count(e => e.Type == "progress"),
            completed.Count,
            // How long after the first job the last of the first wave (one per slot) started.
            starts.Count > 0 ? (starts[Math.Min(slots, starts.Count) - 1] - starts[0]).TotalSeconds : null);
    }
}
