using Consumers.Contracts;
using Consumers.Runtime.Failures;

namespace Consumers.Runtime.Tests.Failures;

public sealed class RetryDecisionTests
{
    private readonly RetryOptions options = new()
    {
        MaxTotalAttempts = 10,
        Codes =
        {
            [ErrorCodes.DependencyUnavailable] = new RetryPolicy { CountsAttempt = false },
            [ErrorCodes.Timeout] = new RetryPolicy { MaxAttempts = 2 },
        },
    };

    [Fact]
    public void By_default_every_failure_uses_an_attempt_until_the_jobs_limit()
    {
        Assert.True(options.Decide(ErrorCodes.Internal, attempt: 2, chargedAttempts: 2, jobMaxAttempts: 3).Retry);
        var last = options.Decide(ErrorCodes.Internal, attempt: 3, chargedAttempts: 3, jobMaxAttempts: 3);
        Assert.False(last.Retry);
        Assert.Equal(3, last.AttemptsUsed);
        Assert.True(last.ChargesAttempt);
    }

    [Fact]
    public void A_code_may_allow_fewer_attempts_than_the_job_but_never_more()
    {
        Assert.True(options.Decide(ErrorCodes.Timeout, 1, 1, jobMaxAttempts: 5).Retry);
        var second = options.Decide(ErrorCodes.Timeout, 2, 2, jobMaxAttempts: 5);
        Assert.False(second.Retry);
        Assert.Equal(2, second.Limit);
        Assert.Equal(1, options.Decide(ErrorCodes.Timeout, 1, 1, jobMaxAttempts: 1).Limit);
    }

    [Fact]
    public void An_uncounted_code_retries_without_using_attempts_up_to_the_total_cap()
    {
        var decision = options.Decide(ErrorCodes.DependencyUnavailable, attempt: 4, chargedAttempts: 1, jobMaxAttempts: 1);
        Assert.True(decision.Retry);
        Assert.False(decision.ChargesAttempt);
        Assert.Equal(0, decision.AttemptsUsed);
        // Its backoff keeps growing with the attempts made, not the ones charged.
        Assert.Equal(4, decision.BackoffStep);

        Assert.False(options.Decide(ErrorCodes.DependencyUnavailable, attempt: 10, chargedAttempts: 1, jobMaxAttempts: 1).Retry);
    }

    [Fact]
    public void The_total_cap_does_not_touch_counted_codes()
    {
        // A job an operator requeued late in life still gets its fresh attempts.
        Assert.True(options.Decide(ErrorCodes.Internal, attempt: 60, chargedAttempts: 1, jobMaxAttempts: 3).Retry);
    }
}
