namespace Consumers.Runtime.Checkpoints;

/// <summary>
/// The latest durable progress of a running job (one row per job, table <c>job_checkpoints</c>): the stage's own
/// small JSON state and the part files it finished, written by the attempt that held the lease at the time.
/// Removed when the job finishes; the foreign key removes it with the job's row too.
/// </summary>
public sealed class JobCheckpointRecord
{
    public Guid JobId { get; set; }

    /// <summary>The attempt that wrote it.</summary>
    public int Attempt { get; set; }

    /// <summary>The lease token that attempt presented.</summary>
    public long LeaseToken { get; set; }

    /// <summary>The stage's state (JSON).</summary>
    public string State { get; set; } = "{}";

    /// <summary>The finished parts, as a JSON array of <see cref="CheckpointPart"/>.</summary>
    public string Parts { get; set; } = "[]";

    /// <summary>How many times checkpoints of this job were saved, all attempts together.</summary>
    public int Saves { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}
