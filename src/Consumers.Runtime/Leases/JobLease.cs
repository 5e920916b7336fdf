namespace Consumers.Runtime.Leases;

/// <summary>
/// What an acquire hands to the attempt that won it: the job, its attempt number and the fencing token
/// every later write of this attempt must present. <paramref name="PipelineId"/> is the pipeline the job is a step of
/// (null: none) and <paramref name="ParentJobId"/> the fanned-out transcode a segment job belongs to (null: none); neither
/// ever changes, so a final write adds the pipeline's advance or the parent's release only when the job has one.
/// </summary>
public sealed record JobLease(Guid JobId, string Stage, int Attempt, long Token, int MaxAttempts, int LeaseTimeoutSeconds, int UnchargedAttempts,
    Guid? PipelineId = null, Guid? ParentJobId = null)
{
    /// <summary>Attempts that count against <see cref="MaxAttempts"/>, this one included.</summary>
    public int ChargedAttempts => Attempt - UnchargedAttempts;
}
