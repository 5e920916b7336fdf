using Consumers.Runtime.Flow.Backpressure;
using Microsoft.Extensions.Time.Testing;

namespace Consumers.Runtime.Tests.Flow.Backpressure;

public sealed class PressureGateTests
{
    private readonly FakeTimeProvider time = new();
    private readonly BackpressureOptions options = new()
    {
        CpuHighWatermark = 0.9,
        CpuLowWatermark = 0.5,
        QueueHighWatermark = 100,
        QueueLowWatermark = 10,
        MinPause = TimeSpan.FromSeconds(5),
    };

    [Fact]
    public void Pauses_above_a_high_watermark_and_names_the_reason()
    {
        var gate = new PressureGate(options, time);

        Assert.False(gate.Evaluate(0.8, 50));
        Assert.True(gate.Evaluate(0.8, 101));
        Assert.True(gate.IsPaused);
        Assert.Equal("queue", gate.Reason);
    }

    [Fact]
    public void Resumes_only_below_the_low_watermark_and_after_the_minimum_pause()
    {
        var gate = new PressureGate(options, time);
        gate.Evaluate(0.95, 0);
        Assert.Equal("cpu", gate.Reason);

        Assert.False(gate.Evaluate(0.7, 0));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(gate.Evaluate(0.7, 0));
        Assert.True(gate.Evaluate(0.4, 0));
        Assert.False(gate.IsPaused);
    }

    [Fact]
    public void Calm_signals_inside_the_minimum_pause_do_not_resume()
    {
        var gate = new PressureGate(options, time);
        gate.Evaluate(0.1, 500);

        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(gate.Evaluate(0.1, 0));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(gate.Evaluate(0.1, 0));
    }

    [Fact]
    public void Missing_samples_never_pause()
    {
        var gate = new PressureGate(options, time);

        Assert.False(gate.Evaluate(null, null));
        Assert.False(gate.IsPaused);
    }
}
