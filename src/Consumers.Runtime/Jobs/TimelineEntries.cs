using System.Globalization;
using Consumers.Contracts;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Timeline;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// Every timeline event the worker writes, built in one place so each type carries the same fields wherever it is
/// written. (The sweep's and the cancel statements' events are computed in SQL from the rows: <c>Jobs/Sql</c>.)
/// </summary>
public static class TimelineEntries
{
    /// <summary><c>requested</c> (attempt 0): the job exists.</summary>
    public static TimelineEntry Requested(JobRequested request) =>
        new(TimelineEventTypes.Requested, new Dictionary<string, string>
        {
            ["stage"] = request.Stage,
            ["outputKey"] = request.OutputKey,
        }, Attempt: 0);

    /// <summary><c>started</c> by <paramref name="worker"/>; a null <paramref name="attempt"/> takes the row's.</summary>
    public static TimelineEntry Started(string worker, int? attempt) =>
        new(TimelineEventTypes.Started, new Dictionary<string, string> { ["worker"] = worker }, attempt);

    /// <summary><c>failed</c> (attempt 0) of a request refused before any attempt, naming the field.</summary>
    public static TimelineEntry Rejected(string code, string message, string field) =>
        new(TimelineEventTypes.Failed, new Dictionary<string, string>
        {
            ["code"] = code,
            ["message"] = message,
            ["field"] = field,
        }, Attempt: 0);

    public static TimelineEntry Progress(int percent) =>
        TimelineEntry.Of(TimelineEventTypes.Progress, ("percent", percent.ToString(CultureInfo.InvariantCulture)));

    public static TimelineEntry Completed(ArtifactRecord artifact, TimeSpan duration) =>
        TimelineEntry.Of(TimelineEventTypes.Completed,
            ("artifactKey", artifact.Key),
            ("size", artifact.Size.ToString(CultureInfo.InvariantCulture)),
            ("sha256", artifact.Sha256),
            ("durationMs", ((long)duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)));

    /// <summary><c>skipped</c>: a valid artifact was already there.</summary>
    public static TimelineEntry Skipped(ArtifactRecord existing) =>
        TimelineEntry.Of(TimelineEventTypes.Skipped,
            ("reason", "artifact_exists"),
            ("artifactKey", existing.Key),
            ("size", existing.Size.ToString(CultureInfo.InvariantCulture)),
            ("sha256", existing.Sha256));

    /// <param name="charged">False: the retry does not count against the attempts (said only then).</param>
    /// <param name="scratchBytes">Bytes of scratch kept for inspection, or null.</param>
    public static TimelineEntry RetryScheduled(string code, string message, int attempt, DateTimeOffset notBefore, bool charged, long? scratchBytes) =>
        TimelineEntry.Of(TimelineEventTypes.RetryScheduled,
            ("code", code),
            ("message", message),
            ("attempt", attempt.ToString(CultureInfo.InvariantCulture)),
            ("notBefore", notBefore.ToString("O", CultureInfo.InvariantCulture)),
            ("charged", charged ? null : "false"),
            ("scratchBytes", scratchBytes?.ToString(CultureInfo.InvariantCulture)));

    /// <param name="lastCode">The transient code that ran out of attempts (with <c>RETRIES_EXHAUSTED</c>), or null.</param>
    public static TimelineEntry Failed(string code, string message, string? field, string? lastCode, int attempt, long? scratchBytes) =>
        TimelineEntry.Of(TimelineEventTypes.Failed,
            ("code", code),
            ("message", message),
            ("field", field),
            ("lastCode", lastCode),
            ("attempt", attempt.ToString(CultureInfo.InvariantCulture)),
            ("scratchBytes", scratchBytes?.ToString(CultureInfo.InvariantCulture)));

    /// <summary>What a cancelled running attempt writes (the statement computes it; this is what a retried write looks for).</summary>
    public static TimelineEntry CancelledRunning() => TimelineEntry.Of(TimelineEventTypes.Cancelled, ("where", "running"));

    /// <summary><c>requeued</c> by a stage that stopped right after a checkpoint for a shutdown (no abort: nothing was lost).</summary>
    public static TimelineEntry RequeuedAtCheckpoint(int attempt) =>
        new(TimelineEventTypes.Requeued, new Dictionary<string, string> { ["reason"] = "shutdown", ["at"] = "checkpoint" }, attempt);

    /// <summary><c>aborted</c> then <c>requeued</c>: the attempt gave the job back (a shutdown, or a worker that fenced itself).</summary>
    public static TimelineEntry[] GivenBack(int attempt, string abortReason, string requeueReason) =>
    [
        new(TimelineEventTypes.Aborted, new Dictionary<string, string> { ["reason"] = abortReason }, attempt),
        new(TimelineEventTypes.Requeued, new Dictionary<string, string> { ["reason"] = requeueReason }, attempt),
    ];

    /// <summary><c>waiting</c>: the attempt handed <paramref name="segments"/> segments to <paramref name="segmentJobs"/> segment jobs and gave its lease back.</summary>
    public static TimelineEntry Waiting(int attempt, int segmentJobs, int segments) =>
        new(TimelineEventTypes.Waiting, new Dictionary<string, string>
        {
            ["segmentJobs"] = segmentJobs.ToString(CultureInfo.InvariantCulture),
            ["segments"] = segments.ToString(CultureInfo.InvariantCulture),
        }, attempt);

    /// <summary><c>completed</c> of a segment job: its segments are in its parent's checkpoint; no artifact of its own.</summary>
    public static TimelineEntry CompletedSegments(Guid parent, string? first, string? end, TimeSpan duration) =>
        TimelineEntry.Of(TimelineEventTypes.Completed,
            ("segmentOf", parent.ToString("D")),
            ("segments", first is null || end is null ? null : first + "-" + end),
            ("durationMs", ((long)duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)));
}
