namespace Consumers.Runtime.Jobs;

/// <summary>What a cancel request did.</summary>
public enum CancelOutcomeKind
{
    /// <summary>The job was waiting (queued or for a retry) and is <c>cancelled</c> now.</summary>
    Cancelled,
    /// <summary>The job is running: the request is recorded and its worker was signalled; it stops within a heartbeat.</summary>
    Requested,
    /// <summary>A cancel was already asked for and has not taken effect yet.</summary>
    AlreadyRequested,
    /// <summary>The job had finished (succeeded, failed or cancelled); nothing changed.</summary>
    Finished,
    /// <summary>No such job.</summary>
    Missing,
}

/// <param name="Status">The job's status after the request.</param>
public sealed record CancelOutcome(CancelOutcomeKind Kind, string? Stage, string? Status);

/// <summary>A job a cancel statement ended, and where it was stopped (<c>queued</c>, <c>running</c> or <c>abandoned</c>).</summary>
public sealed record CancelledJob(Guid JobId, string Stage, string Where);
