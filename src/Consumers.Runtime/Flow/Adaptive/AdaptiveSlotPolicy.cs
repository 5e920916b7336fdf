namespace Consumers.Runtime.Flow.Adaptive;

/// <summary>What a lane did during one controller interval.</summary>
/// <param name="Cpu">Busy fraction of all CPUs, or null when it could not be read.</param>
/// <param name="PeakInUse">The most slots held at once.</param>
/// <param name="InUse">Slots held now (above the capacity while a cut is still draining).</param>
/// <param name="Finished">Deliveries finished in the interval.</param>
/// <param name="PreviousFinished">The same for the interval before.</param>
/// <param name="LastChange">The controller's previous decision: +1 raised, -1 cut, 0 held.</param>
internal readonly record struct LaneSample(double? Cpu, int PeakInUse, int InUse, long Finished, long PreviousFinished, int LastChange);

/// <summary>
/// Additive increase, multiplicative decrease, between a lane's floor and its configured slots: cut when the CPU
/// is saturated (but not again while the previous cut is still draining); step back when the previous raise
/// cost throughput; raise by one when every slot was busy and the CPU is below the low mark; otherwise hold.
/// The gap between the two CPU marks keeps it from flapping.
/// </summary>
internal static class AdaptiveSlotPolicy
{
    public static int Next(int current, int floor, int ceiling, LaneSample sample, AdaptiveConcurrencyOptions options)
    {
        if (sample.Cpu is not { } cpu)
        {
            return current;
        }

        if (cpu >= options.CpuHigh)
        {
            return sample.InUse > current
                ? current
                : Math.Max(floor, Math.Min(current - 1, (int)Math.Floor(current * options.DecreaseFactor)));
        }

        if (sample.LastChange > 0 && sample.Finished < sample.PreviousFinished * 0.9)
        {
            return Math.Max(floor, current - 1);
        }

        if (cpu < options.CpuLow && sample.PeakInUse >= current && sample.InUse <= current && current < ceiling)
        {
            return current + 1;
        }

        return Math.Clamp(current, floor, ceiling);
    }
}
