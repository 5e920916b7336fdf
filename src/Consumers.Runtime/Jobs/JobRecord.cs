namespace Consumers.Runtime.Jobs;

/// <summary>
/// A job's row: the source of truth for its state. The state machine that changes it lives in
/// <see cref="JobStore"/>; this type is what EF Core maps and what read paths return.
/// </summary>
public sealed class JobRecord
{
    public Guid Id { get; set; }
    public string Stage { get; set; } = "";
    public string Source { get; set; } = "";
    public string OutputKey { get; set; } = "";
    public double? ClipDurationSeconds { get; set; }
    /// <summary>The request's priority (0 to 9), for reading; re-sends take it from <see cref="Request"/>, which holds it too.</summary>
    public int Priority { get; set; } = Contracts.JobPriority.Default;
    /// <summary>The request as received (JSON), kept so a requeue can publish it again unchanged.</summary>
    public string Request { get; set; } = "{}";
    public string Status { get; set; } = "";
    public int AttemptCount { get; set; }
    public int MaxAttempts { get; set; }
    /// <summary>Attempts given back without charge (shutdown aborts); the limit applies to attempt_count minus these.</summary>
    public int UnchargedAttempts { get; set; }
    /// <summary>Attempts that ended because their worker stopped heartbeating (crash, freeze, kill).</summary>
    public int LeaseExpiryCount { get; set; }
    /// <summary>Fencing token: grows by one on every acquire; every write of an attempt names it.</summary>
    public long LeaseToken { get; set; }
    public string? LeaseOwner { get; set; }
    public int LeaseTimeoutSeconds { get; set; }
    public DateTimeOffset? ProcessingStartedAt { get; set; }
    public DateTimeOffset? LastHeartbeatAt { get; set; }
    public DateTimeOffset? ProcessingDeadlineAt { get; set; }
    public DateTimeOffset? NotBefore { get; set; }
    /// <summary>False while a queued job waits for the sweep to publish its next <c>JobRequested</c>.</summary>
    public bool Dispatched { get; set; }
    public DateTimeOffset? DispatchedAt { get; set; }
    public int? ProgressPercent { get; set; }
    public string? LastErrorCode { get; set; }
    public string? LastErrorMessage { get; set; }
    public string? ArtifactKey { get; set; }
    public long? ArtifactSize { get; set; }
    public string? ArtifactSha256 { get; set; }
    /// <summary>Sequence number of the job's latest timeline event; the next event gets this plus one.</summary>
    public long LastEventSeq { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    /// <summary>When a cancel was asked for; a running attempt sees it on its next heartbeat (or at once by NOTIFY).</summary>
    public DateTimeOffset? CancelRequestedAt { get; set; }
    public string? CancelReason { get; set; }
    /// <summary>Who asked for the cancel (an OS user for the CLI, <c>RequestedBy</c> of a <c>CancelJob</c> message).</summary>
    public string? CancelBy { get; set; }
    /// <summary>The pipeline this job is a step of (null for a job submitted on its own).</summary>
    public Guid? PipelineId { get; set; }
    /// <summary>
    /// The fanned-out transcode this job encodes segments for (null for every other job). Its parts go to that job's
    /// checkpoint; deleting that job deletes this one.
    /// </summary>
    public Guid? ParentJobId { get; set; }
    /// <summary>What the stage found, offered to later steps of a pipeline (JSON; the probe: duration, streams, size).</summary>
    public string? Result { get; set; }
}
