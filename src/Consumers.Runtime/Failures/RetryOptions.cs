namespace Consumers.Runtime.Failures;

/// <summary>Settings under <c>Consumers:Retry</c>: the backoff for transient failures.</summary>
public sealed class RetryOptions : Settings.IValidatedSettings
{
    public const string Section = "Consumers:Retry";

    public RetryPolicy Default { get; set; } = new();

    /// <summary>Per-code policies overriding <see cref="Default"/> (for example a longer backoff for DEPENDENCY_UNAVAILABLE).</summary>
    public Dictionary<string, RetryPolicy> Codes { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Attempts of any kind, charged or not, after which a failure with a code that does not count the attempt
    /// ends the job with RETRIES_EXHAUSTED all the same (so it cannot retry forever).
    /// </summary>
    public int MaxTotalAttempts { get; set; } = 50;

    /// <summary>
    /// False (default): an attempt that failed because the worker lost PostgreSQL itself (unreachable, restarting,
    /// out of connections, session terminated) is retried without charging the attempt, whatever the
    /// DEPENDENCY_UNAVAILABLE policy says: the outage says nothing about the job.
    /// </summary>
    public bool ChargeDatabaseFailures { get; set; }

    public RetryPolicy For(string code) => Codes.TryGetValue(code, out var policy) ? policy : Default;

    /// <summary>What a transient failure with <paramref name="code"/> on attempt <paramref name="attempt"/> leads to.</summary>
    /// <param name="chargedAttempts">Attempts charged so far, this one included (it was charged when acquired).</param>
    /// <param name="jobMaxAttempts">The job's own limit.</param>
    /// <param name="databaseFailure">The worker's own database path failed (see <see cref="ChargeDatabaseFailures"/>).</param>
    public RetryDecision Decide(string code, int attempt, int chargedAttempts, int jobMaxAttempts, bool databaseFailure = false)
    {
        var policy = For(code);
        var counts = policy.CountsAttempt && !(databaseFailure && !ChargeDatabaseFailures);
        var used = counts ? chargedAttempts : chargedAttempts - 1;
        var limit = Math.Min(jobMaxAttempts, policy.MaxAttempts ?? jobMaxAttempts);
        var retry = used < limit && (counts || attempt < MaxTotalAttempts);
        var delayExponent = counts ? chargedAttempts : attempt;
        return new RetryDecision(retry, counts, used, limit, policy, Math.Max(1, delayExponent));
    }

    /// <inheritdoc />
    public IReadOnlyList<string> Problems()
    {
        var rules = new Settings.SettingsRules(Section).Within(MaxTotalAttempts, 1, 1000, nameof(MaxTotalAttempts));
        foreach (var (key, policy) in Codes.Select(c => ($"{nameof(Codes)}:{c.Key}", c.Value)).Prepend((nameof(Default), Default)))
        {
            rules.Require(policy.MaxAttempts is null or (>= 1 and <= 100), $"{key}:MaxAttempts", "must be from 1 to 100")
                .Require(policy.BaseDelay >= TimeSpan.Zero, $"{key}:BaseDelay", "must not be negative")
                .Require(policy.MaxDelay >= policy.BaseDelay, $"{key}:MaxDelay", $"must be at least BaseDelay ({policy.BaseDelay})")
                .Require(double.IsFinite(policy.Jitter) && policy.Jitter is >= 0 and <= 1, $"{key}:Jitter", "must be from 0 to 1");
        }

        return rules.Problems;
    }
}


/// <param name="Retry">Retried (after a backoff) rather than failed with RETRIES_EXHAUSTED.</param>
/// <param name="ChargesAttempt">The failed attempt counts against the limit.</param>
/// <param name="AttemptsUsed">Charged attempts once this failure is recorded.</param>
/// <param name="Limit">The attempts the job may use for this code.</param>
/// <param name="Policy">The policy that decided, for the backoff.</param>
/// <param name="BackoffStep">The n of the backoff's base·2^(n-1).</param>
public sealed record RetryDecision(bool Retry, bool ChargesAttempt, int AttemptsUsed, int Limit, RetryPolicy Policy, int BackoffStep);
