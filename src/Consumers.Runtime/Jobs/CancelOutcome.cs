namespace Consumers.Runtime.Jobs;

/// <summary>What a cancel request did.</summary>
public enum CancelOutcomeKind
{
    /// <summary>The job was not running (queued, queued for a retry, or waiting for its segment jobs) and is <c>cancelled</c> now.</summary>
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
/// <param name="Where">Where a job the request ended was stopped (<c>queued</c> or <c>waiting</c>); null when it did not end it.</param>
public sealed record CancelOutcome(CancelOutcomeKind Kind, string? Stage, string? Status, string? Where = null);

/// <summary>A job a cancel statement ended, and where it was stopped (<c>queued</c>, <c>waiting</c>, <c>running</c> or <c>abandoned</c>).</summary>
public sealed record CancelledJob(Guid JobId, string Stage, string Where);
