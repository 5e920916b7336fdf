using Consumers.Worker.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace Consumers.Runtime.Tests.Hosting;

public sealed class IdlePeriodTests
{
    private readonly FakeTimeProvider time = new();

    [Fact]
    public void Reports_once_after_the_idle_time_and_not_before()
    {
        var idle = new IdlePeriod(TimeSpan.FromSeconds(10), time);
        Assert.False(idle.Observe(registered: 5, running: 0));

        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(idle.Observe(5, 0));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(idle.Observe(5, 0));

        time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(idle.Observe(5, 0));
    }

    [Fact]
    public void A_running_job_or_a_job_started_in_between_starts_a_new_period()
    {
        var idle = new IdlePeriod(TimeSpan.FromSeconds(10), time);
        idle.Observe(0, 0);

        time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(idle.Observe(0, running: 1));
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(idle.Observe(registered: 1, running: 0));

        // A job that started and finished between two looks also counts as work.
        time.Advance(TimeSpan.FromSeconds(8));
        Assert.False(idle.Observe(2, 0));
        time.Advance(TimeSpan.FromSeconds(8));
        Assert.False(idle.Observe(2, 0));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(idle.Observe(2, 0));

        Assert.False(idle.Observe(3, 0));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(idle.Observe(3, 0));
    }
}
