namespace Consumers.Runtime.Failures;

/// <summary>
/// What a transient failure with one code does: exponential backoff with jitter, capped (attempt n waits a
/// random time in [base·2^(n-1)·(1-jitter), base·2^(n-1)], never more than the cap), how many attempts the
/// code allows, and whether a failure with it uses up an attempt at all.
/// </summary>
public sealed class RetryPolicy
{
    /// <summary>Attempts a job may use when it fails with this code; at most the job's own <c>maxAttempts</c>. Null: the job's.</summary>
    public int? MaxAttempts { get; set; }

    /// <summary>
    /// False: a failure with this code is retried without charging the attempt (for example a dependency that
    /// is down says nothing about the job). Bounded by <see cref="RetryOptions.MaxTotalAttempts"/>.
    /// </summary>
    public bool CountsAttempt { get; set; } = true;

    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Fraction of the delay that is randomised (0 = none, 1 = anywhere from zero).</summary>
    public double Jitter { get; set; } = 0.5;

    public TimeSpan DelayFor(int attempt, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        var exponent = Math.Min(attempt - 1, 30);
        var ceiling = Math.Min(BaseDelay.TotalMilliseconds * Math.Pow(2, exponent), MaxDelay.TotalMilliseconds);
        var floor = ceiling * (1 - Math.Clamp(Jitter, 0, 1));
        return TimeSpan.FromMilliseconds(floor + (random.NextDouble() * (ceiling - floor)));
    }
}
