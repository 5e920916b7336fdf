namespace Consumers.Runtime.Jobs;

/// <summary>How an attempt ended (the <c>outcome</c> label of <c>jobs_finished_total</c>, see <see cref="AttemptOutcomes.Label"/>).</summary>
public enum AttemptOutcome
{
    /// <summary>The stage ran and its artifact is committed with the job.</summary>
    Succeeded,
    /// <summary>A valid artifact was already there; the job succeeded without running the stage.</summary>
    Skipped,
    /// <summary>The job failed (a fatal code, or its attempts ran out).</summary>
    Failed,
    /// <summary>A transient failure: the job waits in the queue for its retry.</summary>
    RetryScheduled,
    /// <summary>The attempt gave the job back (shutdown, or a worker that fenced itself) for another worker.</summary>
    Requeued,
    /// <summary>Another attempt or the sweep owns the job now; nothing of this attempt was written.</summary>
    LeaseLost,
    /// <summary>PostgreSQL could not take the final write in time; the sweep takes the job when its lease expires.</summary>
    CommitLost,
    /// <summary>An operator cancelled the running job.</summary>
    Cancelled,
    /// <summary>The attempt handed its segments to segment jobs; the job waits for them without a lease.</summary>
    Waiting,
}

public static class AttemptOutcomes
{
    /// <summary>The metric label of <paramref name="outcome"/>.</summary>
    public static string Label(this AttemptOutcome outcome) => outcome switch
    {
        AttemptOutcome.Succeeded => "succeeded",
        AttemptOutcome.Skipped => "skipped",
        AttemptOutcome.Failed => "failed",
        AttemptOutcome.RetryScheduled => "retry_scheduled",
        AttemptOutcome.Requeued => "requeued",
        AttemptOutcome.LeaseLost => "lease_lost",
        AttemptOutcome.CommitLost => "commit_lost",
        AttemptOutcome.Cancelled => "cancelled",
        AttemptOutcome.Waiting => "waiting",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };
}
