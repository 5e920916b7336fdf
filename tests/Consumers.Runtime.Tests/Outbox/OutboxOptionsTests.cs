using Consumers.Runtime.Outbox;

namespace Consumers.Runtime.Tests.Outbox;

public sealed class OutboxOptionsTests
{
    [Fact]
    public void The_defaults_are_sound_and_replace_a_frozen_leader_within_ten_seconds()
    {
        var options = new OutboxOptions();
        Assert.Empty(options.Problems());
        Assert.True(options.LeaseDuration + options.StandbyInterval <= TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData(6, 4, 1, "LeaseRenewInterval")]
    [InlineData(6, 2, 2, "LeaseStatementTimeout")]
    [InlineData(0.5, 0.2, 0.1, "LeaseDuration")]
    public void Lease_timings_that_cannot_work_are_refused(double lease, double renew, double statement, string named)
    {
        var options = new OutboxOptions
        {
            LeaseDuration = TimeSpan.FromSeconds(lease),
            LeaseRenewInterval = TimeSpan.FromSeconds(renew),
            LeaseStatementTimeout = TimeSpan.FromSeconds(statement),
            StandbyInterval = TimeSpan.FromSeconds(Math.Min(lease, 2)),
        };
        Assert.Contains(options.Problems(), p => p.StartsWith("Consumers:Outbox:" + named, StringComparison.Ordinal));
    }

    [Fact]
    public void A_stall_threshold_shorter_than_the_check_interval_is_refused()
    {
        var options = new OutboxOptions { StallThreshold = TimeSpan.FromSeconds(2), BacklogCheckInterval = TimeSpan.FromSeconds(5) };
        Assert.Contains(options.Problems(), p => p.StartsWith("Consumers:Outbox:StallThreshold", StringComparison.Ordinal));
    }

    [Fact]
    public void A_publish_timeout_that_could_outlive_the_lease_is_refused()
    {
        var options = new OutboxOptions { PublishTimeout = TimeSpan.FromSeconds(10) };
        Assert.Contains(options.Problems(), p => p.StartsWith("Consumers:Outbox:PublishTimeout", StringComparison.Ordinal));
        Assert.True(new OutboxOptions().PublishTimeout < new OutboxOptions().LeaseDuration);
    }

    [Fact]
    public void A_drain_interval_not_shorter_than_the_poll_is_refused()
    {
        var options = new OutboxOptions { DrainInterval = TimeSpan.FromSeconds(1), PollInterval = TimeSpan.FromSeconds(1) };
        Assert.Contains(options.Problems(), p => p.StartsWith("Consumers:Outbox:DrainInterval", StringComparison.Ordinal));
        Assert.Empty(new OutboxOptions { DrainInterval = TimeSpan.Zero }.Problems());
    }
}
