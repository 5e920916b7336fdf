using Consumers.Runtime.Flow.Adaptive;

namespace Consumers.Runtime.Tests.Flow.Adaptive;

public sealed class AdaptiveSlotPolicyTests
{
    private readonly AdaptiveConcurrencyOptions options = new() { CpuHigh = 0.9, CpuLow = 0.7, DecreaseFactor = 0.5 };

    [Fact]
    public void Saturated_cpu_cuts_multiplicatively_but_not_below_the_floor()
    {
        Assert.Equal(4, AdaptiveSlotPolicy.Next(8, 1, 8, new LaneSample(0.95, 8, 8, 10, 10, 0), options));
        Assert.Equal(2, AdaptiveSlotPolicy.Next(3, 2, 8, new LaneSample(0.95, 3, 3, 10, 10, 0), options));
        Assert.Equal(1, AdaptiveSlotPolicy.Next(1, 1, 8, new LaneSample(0.99, 1, 1, 10, 10, 0), options));
    }

    [Fact]
    public void A_busy_lane_with_cpu_to_spare_grows_by_one_up_to_its_ceiling()
    {
        Assert.Equal(5, AdaptiveSlotPolicy.Next(4, 1, 8, new LaneSample(0.5, 4, 4, 10, 10, 0), options));
        Assert.Equal(8, AdaptiveSlotPolicy.Next(8, 1, 8, new LaneSample(0.5, 8, 8, 10, 10, 0), options));
    }

    [Fact]
    public void An_idle_lane_or_an_unknown_cpu_holds()
    {
        Assert.Equal(4, AdaptiveSlotPolicy.Next(4, 1, 8, new LaneSample(0.5, 2, 2, 10, 10, 0), options));
        Assert.Equal(4, AdaptiveSlotPolicy.Next(4, 1, 8, new LaneSample(null, 4, 4, 10, 10, 0), options));
    }

    [Fact]
    public void A_raise_that_cost_throughput_is_taken_back()
    {
        Assert.Equal(4, AdaptiveSlotPolicy.Next(5, 1, 8, new LaneSample(0.6, 5, 5, 50, 100, +1), options));
        // The same drop after a hold is not blamed on the slot count.
        Assert.Equal(6, AdaptiveSlotPolicy.Next(5, 1, 8, new LaneSample(0.6, 5, 5, 50, 100, 0), options));
    }

    [Fact]
    public void No_second_cut_while_the_first_is_still_draining_and_no_raise_between_the_marks()
    {
        // Cut from 8 to 4, eight still running: wait for them rather than cut again.
        Assert.Equal(4, AdaptiveSlotPolicy.Next(4, 1, 8, new LaneSample(0.95, 8, 8, 10, 10, -1), options));
        // CPU between the low and the high mark: hold even though the lane is busy.
        Assert.Equal(4, AdaptiveSlotPolicy.Next(4, 1, 8, new LaneSample(0.8, 4, 4, 10, 10, 0), options));
    }
}
