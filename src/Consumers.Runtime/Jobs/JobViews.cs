using System.Text.Json;
using Consumers.Runtime.Timeline;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// A job as operators read it, in the admin API and in the CLI's <c>--json</c>: the row, with the attempts charged
/// against the limit and the stored request as nested JSON.
/// </summary>
public record JobView(
    Guid Id,
    string Stage,
    string Status,
    string Source,
    string OutputKey,
    int ChargedAttempts,
    int MaxAttempts,
    string? LeaseOwner,
    DateTimeOffset? LastHeartbeatAt,
    DateTimeOffset? NotBefore,
    int? ProgressPercent,
    string? LastErrorCode,
    string? LastErrorMessage,
    string? ArtifactKey,
    long? ArtifactSize,
    string? ArtifactSha256,
    DateTimeOffset? CancelRequestedAt,
    string? CancelBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? FinishedAt,
    JsonElement Request)
{
    public static JobView From(JobRecord job) => new(
        job.Id, job.Stage, job.Status, job.Source, job.OutputKey, job.AttemptCount - job.UnchargedAttempts, job.MaxAttempts,
        job.LeaseOwner, job.LastHeartbeatAt, job.NotBefore, job.ProgressPercent, job.LastErrorCode, job.LastErrorMessage,
        job.ArtifactKey, job.ArtifactSize, job.ArtifactSha256, job.CancelRequestedAt, job.CancelBy, job.CreatedAt, job.UpdatedAt,
        job.FinishedAt, JsonDocument.Parse(job.Request).RootElement.Clone());
}

/// <summary>
/// <see cref="JobView"/> with the row's bookkeeping a person debugging a job wants (every attempt, lease expiries, the
/// fencing token, the last event's number): what <c>consumers show/list/stuck --json</c> print.
/// </summary>
public sealed record JobDetailView : JobView
{
    private JobDetailView(JobRecord job)
        : base(From(job))
    {
        AttemptCount = job.AttemptCount;
        LeaseExpiryCount = job.LeaseExpiryCount;
        LeaseToken = job.LeaseToken;
        LastEventSeq = job.LastEventSeq;
    }

    /// <summary>Every attempt started, charged or not (<see cref="JobView.ChargedAttempts"/> counts against the limit).</summary>
    public int AttemptCount { get; init; }

    public int LeaseExpiryCount { get; init; }

    public long LeaseToken { get; init; }

    public long LastEventSeq { get; init; }

    public static JobDetailView Of(JobRecord job) => new(job);
}

/// <summary>One timeline event; <see cref="Data"/> as the event stored it.</summary>
public sealed record JobEventView(long Seq, string Type, int Attempt, DateTimeOffset OccurredAt, JsonElement Data)
{
    public static JobEventView From(JobEventRecord e) =>
        new(e.Seq, e.Type, e.Attempt, e.OccurredAt, JsonDocument.Parse(e.Data).RootElement.Clone());
}

/// <summary>A page of jobs, newest first, with how many match in all and per status.</summary>
public sealed record JobPage(int Total, int Offset, int Limit, IReadOnlyDictionary<string, int> Counts, IReadOnlyList<JobView> Jobs);

/// <summary>Jobs of a stage in a status: waiting and running now, or finished in the last 24 hours.</summary>
public sealed record StageCount(string Stage, string Status, int Count);

/// <summary>Jobs that finished in one minute, by outcome.</summary>
public sealed record ThroughputMinute(DateTimeOffset Minute, int Succeeded, int Failed, int Cancelled);

/// <summary>Outbox rows not yet published (counted up to a million) and the age of the oldest.</summary>
public sealed record OutboxView(long Backlog, double OldestAgeSeconds);

/// <summary>Jobs running now of one stage on one worker (its lease owner).</summary>
public sealed record RunningCount(string Stage, string Owner, int Count);
