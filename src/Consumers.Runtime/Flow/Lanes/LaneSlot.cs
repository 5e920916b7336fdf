namespace Consumers.Runtime.Flow.Lanes;

/// <summary>A running job's hold on its lane's slot and the worker's (and its place past the solo gate); disposing it gives them back.</summary>
public sealed class LaneSlot(JobLane lane, SlotLimiter worker, SoloGate solo) : IDisposable
{
    private int released;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref released, 1) == 0)
        {
            lane.Finished();
            solo.Exit();
            worker.Exit();
            lane.Slots.Exit();
        }
    }
}
