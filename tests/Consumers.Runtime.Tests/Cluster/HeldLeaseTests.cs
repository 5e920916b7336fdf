using Consumers.Runtime.Cluster;
using Microsoft.Extensions.Time.Testing;

namespace Consumers.Runtime.Tests.Cluster;

public sealed class HeldLeaseTests
{
    private readonly FakeTimeProvider time = new();

    [Fact]
    public void The_lease_runs_from_when_the_acquire_was_sent_not_from_when_it_returned()
    {
        var sent = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(2)); // the acquire took two seconds to come back
        var lease = new HeldLease("relay", 1, TimeSpan.FromSeconds(6), sent, time);

        time.Advance(TimeSpan.FromSeconds(3.9));
        Assert.True(lease.IsHeld);
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.False(lease.IsHeld);
    }

    [Fact]
    public void A_renew_extends_from_its_own_send_time_and_an_older_renew_never_shortens_it()
    {
        var lease = new HeldLease("relay", 1, TimeSpan.FromSeconds(6), time.GetTimestamp(), time);
        time.Advance(TimeSpan.FromSeconds(2));
        var early = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(2));
        lease.Renewed(time.GetTimestamp(), TimeSpan.FromSeconds(6));
        lease.Renewed(early, TimeSpan.FromSeconds(6));

        time.Advance(TimeSpan.FromSeconds(5.9));
        Assert.True(lease.IsHeld);
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.False(lease.IsHeld);
    }

    [Fact]
    public void A_frozen_holder_finds_its_lease_gone_when_it_wakes()
    {
        var lease = new HeldLease("relay", 3, TimeSpan.FromSeconds(6), time.GetTimestamp(), time);
        time.Advance(TimeSpan.FromSeconds(30)); // SIGSTOP: the monotonic clock runs on
        Assert.False(lease.IsHeld);
        Assert.Equal(TimeSpan.Zero, lease.Remaining);
    }

    [Fact]
    public void A_refused_renew_ends_the_lease_at_once()
    {
        var lease = new HeldLease("relay", 1, TimeSpan.FromSeconds(6), time.GetTimestamp(), time);
        lease.MarkLost();
        Assert.False(lease.IsHeld);
    }
}
