namespace Consumers.Contracts;

/// <summary>The kinds of timeline event. <see cref="IsTerminal"/> ones end a timeline.</summary>
public static class TimelineEventTypes
{
    public const string Requested = "requested";
    public const string Started = "started";
    public const string Progress = "progress";
    public const string Completed = "completed";
    public const string Skipped = "skipped";
    public const string RetryScheduled = "retry_scheduled";
    public const string Requeued = "requeued";
    public const string Aborted = "aborted";
    public const string Failed = "failed";
    public const string Quarantined = "quarantined";

    /// <summary>
    /// The attempt handed its segments to segment jobs and gave its lease back, uncharged (data: <c>segmentJobs</c>,
    /// <c>segments</c>); the job waits for them, and its next attempt (n+1) joins and commits.
    /// </summary>
    public const string Waiting = "waiting";

    /// <summary>Terminal: the job was cancelled (data: <c>reason</c>, <c>by</c>, <c>where</c> = queued | running).</summary>
    public const string Cancelled = "cancelled";

    public static IReadOnlyList<string> All { get; } =
        [Requested, Started, Progress, Completed, Skipped, RetryScheduled, Requeued, Aborted, Waiting, Failed, Quarantined, Cancelled];

    public static bool IsTerminal(string type) =>
        type is Completed or Skipped or Failed or Quarantined or Cancelled;
}
