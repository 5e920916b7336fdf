namespace Consumers.Runtime.Pipelines;

/// <summary>
/// A pipeline's row: its request, its status (<c>running</c>, then <c>succeeded</c>, <c>failed</c> or
/// <c>cancelled</c>) and the sequence of its timeline. Changed only by the statements in <c>Jobs/Sql/PipelineSql</c>.
/// </summary>
public sealed class PipelineRecord
{
    public Guid Id { get; set; }
    public string Status { get; set; } = "";
    public string Source { get; set; } = "";
    /// <summary>The request as received (JSON).</summary>
    public string Request { get; set; } = "{}";
    public int StepCount { get; set; }
    /// <summary>The step that made the pipeline fail (the first by request order), or the invalid step.</summary>
    public string? FailedStep { get; set; }
    public string? ErrorCode { get; set; }
    public string? ErrorMessage { get; set; }
    public DateTimeOffset? CancelRequestedAt { get; set; }
    public string? CancelReason { get; set; }
    public string? CancelBy { get; set; }
    /// <summary>Sequence number of the pipeline's latest timeline event.</summary>
    public long LastEventSeq { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
}

/// <summary>
/// One step of a pipeline: <c>waiting</c> until its dependencies succeeded, then <c>dispatched</c> (its job exists),
/// then the job's outcome (<c>succeeded</c>, <c>failed</c>, <c>cancelled</c>), or <c>skipped</c> without running.
/// </summary>
public sealed class PipelineStepRecord
{
    public Guid PipelineId { get; set; }
    public string Name { get; set; } = "";
    /// <summary>Position in the request: the order of events and of "the first step that failed".</summary>
    public int Ord { get; set; }
    public string Stage { get; set; } = "";
    /// <summary>The id the step's job gets when it is dispatched (chosen at submission).</summary>
    public Guid JobId { get; set; }
    public string[] DependsOn { get; set; } = [];
    /// <summary>Every step this one waits for, directly or through others: a failure among them skips it.</summary>
    public string[] Ancestors { get; set; } = [];
    /// <summary>The step's <c>JobRequested</c> (JSON) before outputs of earlier steps fill it in.</summary>
    public string Request { get; set; } = "{}";
    public int MaxAttempts { get; set; }
    public string State { get; set; } = "";
    public string? Reason { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>One row of a pipeline's timeline (<c>pipeline_events</c>), keyed by (pipeline id, seq).</summary>
public sealed class PipelineEventRecord
{
    public Guid PipelineId { get; set; }
    public long Seq { get; set; }
    public string Type { get; set; } = "";
    public string? Step { get; set; }
    public Guid? JobId { get; set; }
    public DateTimeOffset OccurredAt { get; set; }
    /// <summary>Event details as a JSON object of strings (and <c>artifacts</c> on completion).</summary>
    public string Data { get; set; } = "{}";
}
