namespace Consumers.Runtime.Flow;

/// <summary>A running job's hold on its lane's slot and the worker's; disposing it gives both back.</summary>
public sealed class LaneSlot(JobLane lane, SlotLimiter worker) : IDisposable
{
    private int released;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref released, 1) == 0)
        {
            lane.Finished();
            worker.Exit();
            lane.Slots.Exit();
        }
    }
}
