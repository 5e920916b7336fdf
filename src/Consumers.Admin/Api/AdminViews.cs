using Consumers.Runtime.Jobs;

namespace Consumers.Admin.Api;

// The API's views of jobs (JobView, JobEventView, JobPage, StageCount, ThroughputMinute, OutboxView) are the shared read
// model's, in Consumers.Runtime.Jobs (JobQueries), the same the CLI prints; the records here are what only the API shows.

/// <summary>A job and its whole timeline, in the shared read model's views (<see cref="JobQueries"/>).</summary>
public sealed record JobWithTimeline(JobView Job, IReadOnlyList<JobEventView> Timeline);

public sealed record AdminStuckJob(JobView Job, string Why);

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
