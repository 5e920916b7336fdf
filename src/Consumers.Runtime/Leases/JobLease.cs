namespace Consumers.Runtime.Leases;

/// <summary>
/// What an acquire hands to the attempt that won it: the job, its attempt number and the fencing token
/// every later write of this attempt must present.
/// </summary>
public sealed record JobLease(Guid JobId, string Stage, int Attempt, long Token, int MaxAttempts, int LeaseTimeoutSeconds, int UnchargedAttempts)
{
    /// <summary>Attempts that count against <see cref="MaxAttempts"/>, this one included.</summary>
    public int ChargedAttempts => Attempt - UnchargedAttempts;
}
