using System.Text.Json;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Timeline;

namespace Consumers.Admin.Api;

/// <summary>A job as the API shows it: the row, with attempts charged against the limit and the request as JSON.</summary>
public sealed record AdminJob(
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
    public static AdminJob From(JobRecord job) => new(
        job.Id, job.Stage, job.Status, job.Source, job.OutputKey, job.AttemptCount - job.UnchargedAttempts, job.MaxAttempts,
        job.LeaseOwner, job.LastHeartbeatAt, job.NotBefore, job.ProgressPercent, job.LastErrorCode, job.LastErrorMessage,
        job.ArtifactKey, job.ArtifactSize, job.ArtifactSha256, job.CancelRequestedAt, job.CancelBy, job.CreatedAt, job.UpdatedAt,
        job.FinishedAt, JsonDocument.Parse(job.Request).RootElement.Clone());
}

/// <summary>One timeline event; <see cref="Data"/> as the event stored it.</summary>
public sealed record AdminEvent(long Seq, string Type, int Attempt, DateTimeOffset OccurredAt, JsonElement Data)
{
    public static AdminEvent From(JobEventRecord e) =>
        new(e.Seq, e.Type, e.Attempt, e.OccurredAt, JsonDocument.Parse(e.Data).RootElement.Clone());
}

public sealed record JobWithTimeline(AdminJob Job, IReadOnlyList<AdminEvent> Timeline);

/// <summary>A page of jobs, newest first, with how many match in all and per status.</summary>
public sealed record JobPage(int Total, int Offset, int Limit, IReadOnlyDictionary<string, int> Counts, IReadOnlyList<AdminJob> Jobs);

public sealed record AdminStuckJob(AdminJob Job, string Why);

/// <summary>A lane: its queue, its slots on each worker, the jobs of it running across all workers, and what waits in its queue.</summary>
public sealed record LaneView(string Name, string Queue, int SlotsPerWorker, int Running, long? Ready, IReadOnlyList<string> Stages);

public sealed record WorkerView(string WorkerId, int Running);

public sealed record PauseView(string Stage, string PausedBy, string? Reason, DateTimeOffset PausedAt, long? Parked);

/// <summary>Queue depth against the backpressure watermarks (a worker stops taking jobs above the high one).</summary>
public sealed record BackpressureView(bool Enabled, long HighWatermark, long LowWatermark, IReadOnlyList<QueueDepth> Watched);

public sealed record QueueDepth(string Queue, long? Messages);

public sealed record LanesView(
    int ConcurrentJobsPerWorker, IReadOnlyList<LaneView> Lanes, IReadOnlyList<WorkerView> Workers, IReadOnlyList<PauseView> Pauses,
    BackpressureView Backpressure);

public sealed record StageCount(string Stage, string Status, int Count);

public sealed record ThroughputMinute(DateTimeOffset Minute, int Succeeded, int Failed, int Cancelled);

public sealed record OutboxView(long Backlog, double OldestAgeSeconds);

/// <summary>The dashboard's first page: one call, so it shows one moment.</summary>
public sealed record OverviewView(
    IReadOnlyDictionary<string, int> Statuses,
    IReadOnlyList<StageCount> Stages,
    IReadOnlyList<ThroughputMinute> Throughput,
    OutboxView Outbox,
    int Stuck,
    IReadOnlyList<QueueDepth> DeadLetters,
    LanesView Lanes);

public sealed record AdminDeadLetter(
    string Queue, string? MessageId, Guid? JobId, string? Stage, string? Reason, string? ExceptionType, string? FaultMessage,
    string? FaultedAt, bool Valid, string? Problem, string Body);

public sealed record AuditEntry(DateTimeOffset At, string Action, string Target, string By, string? Reason, string? Outcome);

public sealed record CallerView(string Name, Access.AdminRole Role);

/// <summary>The body of an action: why (required for a requeue, optional otherwise).</summary>
public sealed record ActionRequest(string? Reason);

/// <summary>What a replay request selects: one message by id, or every valid one; optionally in one error queue.</summary>
public sealed record ReplayRequest(string? MessageId, bool All, string? Queue);

/// <summary>What an action did: <c>outcome</c> as the operator audit records it, and the job's status after it when there is one.</summary>
public sealed record ActionResult(string Outcome, string? Status = null, int? Replayed = null);
