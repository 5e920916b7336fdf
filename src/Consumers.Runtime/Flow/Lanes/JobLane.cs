namespace Consumers.Runtime.Flow.Lanes;

/// <summary>A queue, the receive endpoint on it and the slots its jobs run in.</summary>
public sealed class JobLane(string name, string queue, int maxSlots, int minSlots)
{
    public const string SharedName = "shared";

    /// <summary>The label of the whole worker's slots beside the lanes' in <c>worker_job_slots</c>; no lane may take it.</summary>
    public const string WorkerName = "worker";

    /// <summary><see cref="SharedName"/>, or the stage the lane is for.</summary>
    public string Name { get; } = name;

    public string Queue { get; } = queue;

    /// <summary>The queue a receive endpoint reads, from its input address (<c>rabbitmq://host/vhost/queue</c>).</summary>
    public static string QueueOf(Uri inputAddress) =>
        inputAddress.AbsolutePath[(inputAddress.AbsolutePath.LastIndexOf('/') + 1)..];

    /// <summary>The configured slots: the endpoint's concurrency limit and the ceiling of adaptive concurrency.</summary>
    public int MaxSlots { get; } = maxSlots;

    public int MinSlots { get; } = Math.Clamp(minSlots, 1, maxSlots);

    public SlotLimiter Slots { get; } = new(maxSlots);

    private long finished;

    /// <summary>Deliveries this lane has finished with since the previous call.</summary>
    public long TakeFinished() => Interlocked.Exchange(ref finished, 0);

    internal void Finished() => Interlocked.Increment(ref finished);
}
