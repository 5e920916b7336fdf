namespace Consumers.Bench.Reporting;

/// <summary>The targets of issue 19 (cost per job), in one place so that every section states them the same way.</summary>
public static class Targets
{
    /// <summary>Plain ffmpeg wall / runtime wall for the same transcodes: the share of the encoding capacity jobs get.</summary>
    public const double MediaEfficiency = 0.95;

    /// <summary>Our no-op jobs/s over Hangfire's on the same PostgreSQL and machine.</summary>
    public const double PeerRatio = 5;

    /// <summary>Committed transactions per no-op job, amortized (submit, relay and polling included).</summary>
    public const double TransactionsPerJob = 3;

    /// <summary>Top-level statements per no-op job, amortized.</summary>
    public const double StatementsPerJob = 4;

    /// <summary>CPU per no-op job across the worker, PostgreSQL and RabbitMQ processes.</summary>
    public const double CpuMillisecondsPerJob = 2.5;

    /// <summary>
    /// <paramref name="numerator"/> / <paramref name="denominator"/>, or null when either was not measured or the
    /// denominator is not positive (a ratio against nothing is not a figure).
    /// </summary>
    public static double? Ratio(double? numerator, double? denominator) =>
        numerator is { } n && denominator is { } d && d > 0 && !double.IsNaN(n) && !double.IsInfinity(n) ? n / d : null;

    /// <summary>Adds a ratio figure with an at-least target; a missing side makes it "n/a" and not met.</summary>
    public static Figure AddAtLeast(SectionResult result, string name, double? numerator, double? denominator, double target, string? note = null) =>
        result.Add(name, Ratio(numerator, denominator), "x", note)
            .WithTarget(string.Create(System.Globalization.CultureInfo.InvariantCulture, $">= {target}"), v => v >= target);

    /// <summary>Adds a figure with an at-most target.</summary>
    public static Figure AddAtMost(SectionResult result, string name, double? value, string unit, double target, string? note = null) =>
        result.Add(name, value, unit, note)
            .WithTarget(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"<= {target} {unit}"), v => v <= target);
}
