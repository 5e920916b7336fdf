using Consumers.Runtime.Leases;
namespace Consumers.Runtime.Jobs;

/// <summary>Why an acquire did or did not hand out a lease.</summary>
public enum AcquireOutcomeKind
{
    /// <summary>This attempt holds the lease.</summary>
    Acquired,
    /// <summary>The job already finished: the message was a duplicate.</summary>
    AlreadyFinished,
    /// <summary>Another attempt holds the lease right now.</summary>
    HeldElsewhere,
    /// <summary>The job waits for its retry backoff; the dispatcher will send it again when it is due.</summary>
    NotDue,
    /// <summary>
    /// The job is a suspect (an earlier attempt died with its worker) and the caller does not hold its worker's solo
    /// gate: nothing was changed. Take the gate and acquire again, or hand the job back.
    /// </summary>
    Suspect,
    /// <summary>The request holds text the database cannot store; it was recorded as failed without an attempt.</summary>
    Refused,
    /// <summary>A suspect job that could not run alone on this worker now; handed back for the sweep to dispatch again.</summary>
    Deferred,
}

public sealed record AcquireOutcome(AcquireOutcomeKind Kind, JobLease? Lease, string? Status)
{
    public static AcquireOutcome Won(JobLease lease) => new(AcquireOutcomeKind.Acquired, lease, "processing");
}
