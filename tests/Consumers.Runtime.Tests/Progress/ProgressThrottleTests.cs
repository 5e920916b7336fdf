using Consumers.Runtime.Progress;
using Microsoft.Extensions.Time.Testing;

namespace Consumers.Runtime.Tests.Progress;

public sealed class ProgressThrottleTests
{
    private readonly FakeTimeProvider time = new();

    [Fact]
    public void Emits_only_when_the_percent_grew_by_the_delta()
    {
        var throttle = new ProgressThrottle(10, TimeSpan.FromMinutes(1), time);

        var emitted = Enumerable.Range(0, 100).Select(p => throttle.Offer(p)).Where(p => p is not null).ToList();

        Assert.Equal([10, 20, 30, 40, 50, 60, 70, 80, 90], emitted.Select(p => p!.Value));
    }

    [Fact]
    public void Emits_a_small_change_once_the_interval_passed()
    {
        var throttle = new ProgressThrottle(10, TimeSpan.FromSeconds(5), time);
        Assert.Null(throttle.Offer(3));

        time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(4, throttle.Offer(4));
        Assert.Null(throttle.Offer(5));
    }

    [Fact]
    public void Never_goes_backwards_and_never_repeats()
    {
        var throttle = new ProgressThrottle(1, TimeSpan.Zero, time);
        Assert.Equal(50, throttle.Offer(50));

        Assert.Null(throttle.Offer(40));
        Assert.Null(throttle.Offer(50));
        Assert.Equal(50, throttle.Latest);
        Assert.Equal(51, throttle.Offer(51.9));
    }

    [Fact]
    public void Leaves_one_hundred_to_the_completion_event()
    {
        var throttle = new ProgressThrottle(10, TimeSpan.Zero, time);

        Assert.Null(throttle.Offer(100));
        Assert.Null(throttle.Offer(250));
        Assert.Equal(100, throttle.Latest);
    }

    [Fact]
    public void Reports_outside_the_range_are_clamped()
    {
        var throttle = new ProgressThrottle(10, TimeSpan.Zero, time);

        Assert.Null(throttle.Offer(-5));
        Assert.Equal(0, throttle.Latest);
        Assert.Equal(10, throttle.Offer(10));
    }
}
