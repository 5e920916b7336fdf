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
}

public sealed record AcquireOutcome(AcquireOutcomeKind Kind, JobLease? Lease, string? Status)
{
    public static AcquireOutcome Won(JobLease lease) => new(AcquireOutcomeKind.Acquired, lease, "processing");
}
