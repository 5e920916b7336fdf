using Consumers.Runtime.Failures;

namespace Consumers.Runtime.Tests.Failures;

/// <summary>Property-style: many seeds and attempts, checked against the bounds the policy promises.</summary>
public sealed class RetryPolicyTests
{
    public static TheoryData<double, double, double> Policies => new()
    {
        { 2, 300, 0.5 },
        { 0.1, 5, 1.0 },
        { 1, 1, 0.0 },
        { 30, 3600, 0.25 },
    };

    [Theory]
    [MemberData(nameof(Policies))]
    public void Every_delay_lies_within_the_jittered_exponential_bounds_and_never_above_the_cap(double baseSeconds, double capSeconds, double jitter)
    {
        var policy = new RetryPolicy { BaseDelay = TimeSpan.FromSeconds(baseSeconds), MaxDelay = TimeSpan.FromSeconds(capSeconds), Jitter = jitter };
        for (var seed = 0; seed < 200; seed++)
        {
            var random = new Random(seed);
            for (var attempt = 1; attempt <= 40; attempt++)
            {
                var ceiling = Math.Min(baseSeconds * Math.Pow(2, attempt - 1), capSeconds);
                var delay = policy.DelayFor(attempt, random).TotalSeconds;

                Assert.InRange(delay, (ceiling * (1 - jitter)) - 1e-6, ceiling + 1e-6);
                Assert.True(delay <= capSeconds + 1e-6);
            }
        }
    }

    [Fact]
    public void Without_jitter_the_schedule_doubles_then_stays_at_the_cap()
    {
        var policy = new RetryPolicy { BaseDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(10), Jitter = 0 };

        var schedule = Enumerable.Range(1, 7).Select(a => policy.DelayFor(a, new Random(1)).TotalSeconds).ToList();

        Assert.Equal([1, 2, 4, 8, 10, 10, 10], schedule);
    }

    [Fact]
    public void Jitter_spreads_the_delays_of_one_attempt()
    {
        var policy = new RetryPolicy { BaseDelay = TimeSpan.FromSeconds(10), MaxDelay = TimeSpan.FromMinutes(10), Jitter = 0.5 };

        var delays = Enumerable.Range(0, 100).Select(seed => policy.DelayFor(3, new Random(seed)).TotalSeconds).ToList();

        Assert.True(delays.Max() - delays.Min() > 5, "jitter should spread delays across most of [20s, 40s]");
    }

    [Fact]
    public void Attempt_numbers_start_at_one()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RetryPolicy().DelayFor(0, new Random(1)));
    }
}
