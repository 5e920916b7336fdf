namespace Consumers.Runtime.Flow.Adaptive;

/// <summary>
/// Settings under <c>Consumers:Flow:Adaptive</c>: a controller per lane that lowers the slot count when the CPU is
/// saturated and raises it again, one slot at a time, while the lane is busy and its throughput keeps up.
/// The configured slots are the ceiling; each lane's <c>MinSlots</c> the floor.
/// </summary>
public sealed class AdaptiveConcurrencyOptions
{
    public bool Enabled { get; set; }

    /// <summary>How often each lane's slot count is reconsidered.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Busy fraction of all CPUs above which a lane's slots are cut.</summary>
    public double CpuHigh { get; set; } = 0.9;

    /// <summary>Busy fraction of all CPUs below which a busy lane may get a slot more.</summary>
    public double CpuLow { get; set; } = 0.75;

    /// <summary>The factor a cut multiplies the slots by.</summary>
    public double DecreaseFactor { get; set; } = 0.75;

    /// <summary>The shared lane's floor (stage lanes have their own <c>MinSlots</c>).</summary>
    public int SharedMinSlots { get; set; } = 1;
}
