using Consumers.Runtime.Jobs;

namespace Consumers.Runtime.Leases;

/// <summary>Why a running attempt was told to stop.</summary>
public enum StopReason
{
    None,
    /// <summary>The heartbeat found the lease gone, or beats failed for too long (self-fencing).</summary>
    LeaseLost,
    /// <summary>The worker is shutting down and the drain timeout passed.</summary>
    Shutdown,
}

/// <summary>An attempt this worker is running: its lease, its latest progress and the token that stops it.</summary>
public sealed class ActiveJob : IDisposable
{
    private readonly CancellationTokenSource stop = new();
    private int progress = -1;
    private int reason;
    private bool finishing;

    public ActiveJob(JobLease lease)
    {
        Lease = lease;
    }

    public JobLease Lease { get; }

    public CancellationToken Stopping => stop.Token;

    public StopReason Reason => (StopReason)Volatile.Read(ref reason);

    /// <summary>Latest percent for the heartbeat to persist, or null before the first report.</summary>
    public int? ProgressPercent => Volatile.Read(ref progress) is var p && p >= 0 ? p : null;

    public void RecordProgress(int percent) => Volatile.Write(ref progress, percent);

    /// <summary>
    /// Set right before the attempt's final transition: from then on its row may leave <c>processing</c>
    /// legitimately, and a heartbeat that misses it is not a lost lease.
    /// </summary>
    public bool IsFinishing => Volatile.Read(ref finishing);

    public void MarkFinishing() => Volatile.Write(ref finishing, true);

    /// <summary>Stops the attempt; the first reason given wins.</summary>
    public void Stop(StopReason why)
    {
        if (Interlocked.CompareExchange(ref reason, (int)why, (int)StopReason.None) == (int)StopReason.None)
        {
            stop.Cancel();
        }
    }

    public void Dispose() => stop.Dispose();
}
