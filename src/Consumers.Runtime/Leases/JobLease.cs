namespace Consumers.Runtime.Leases;

/// <summary>
/// What an acquire hands to the attempt that won it: the job, its attempt number and the fencing token
/// every later write of this attempt must present. <paramref name="PipelineId"/> is the pipeline the job is a step of
/// (null: none); a job's pipeline never changes, so its final writes add the pipeline's advance only when it has one.
/// </summary>
public sealed record JobLease(Guid JobId, string Stage, int Attempt, long Token, int MaxAttempts, int LeaseTimeoutSeconds, int UnchargedAttempts,
    Guid? PipelineId = null)
{
    /// <summary>Attempts that count against <see cref="MaxAttempts"/>, this one included.</summary>
    public int ChargedAttempts => Attempt - UnchargedAttempts;
}
