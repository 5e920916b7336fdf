namespace Consumers.Runtime.Flow;

/// <summary>What a lane did during one controller interval.</summary>
/// <param name="Cpu">Busy fraction of all CPUs, or null when it could not be read.</param>
/// <param name="PeakInUse">The most slots held at once.</param>
/// <param name="Finished">Deliveries finished in the interval.</param>
/// <param name="PreviousFinished">The same for the interval before.</param>
/// <param name="LastChange">The controller's previous decision: +1 raised, -1 cut, 0 held.</param>
public readonly record struct LaneSample(double? Cpu, int PeakInUse, long Finished, long PreviousFinished, int LastChange);

/// <summary>
/// Additive increase, multiplicative decrease, between a lane's floor and its configured slots: cut when the CPU
/// is saturated; step back when the previous raise cost throughput; raise by one when every slot was busy and
/// the CPU has room; otherwise hold.
/// </summary>
public static class AdaptiveSlotPolicy
{
    public static int Next(int current, int floor, int ceiling, LaneSample sample, AdaptiveConcurrencyOptions options)
    {
        if (sample.Cpu is not { } cpu)
        {
            return current;
        }

        if (cpu >= options.CpuHigh)
        {
            return Math.Max(floor, Math.Min(current - 1, (int)Math.Floor(current * options.DecreaseFactor)));
        }

        if (sample.LastChange > 0 && sample.Finished < sample.PreviousFinished * 0.9)
        {
            return Math.Max(floor, current - 1);
        }

        if (sample.PeakInUse >= current && current < ceiling)
        {
            return current + 1;
        }

        return Math.Clamp(current, floor, ceiling);
    }
}
