namespace Consumers.Runtime.Failures;

/// <summary>
/// Exponential backoff with full jitter, capped: attempt n waits a random time in
/// [base·2^(n-1)·(1-jitter), base·2^(n-1)], never more than the cap.
/// </summary>
public sealed class RetryPolicy
{
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
