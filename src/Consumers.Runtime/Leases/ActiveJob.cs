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
    /// <summary>An operator or producer asked to cancel the job.</summary>
    Cancelled,
}

/// <summary>An attempt this worker is running: its lease, its latest progress and the token that stops it.</summary>
public sealed class ActiveJob : IDisposable
{
    private readonly CancellationTokenSource stop = new();
    private int progress = -1;
    private int reason;
    private bool finishing;
    private bool shutdownAsked;
    private long renewedAt;
    private Task? cancelling;

    /// <param name="lease">The lease the acquire took.</param>
    /// <param name="acquiredAt">Monotonic timestamp (<see cref="TimeProvider.GetTimestamp"/>) taken before the acquire was sent.</param>
    public ActiveJob(JobLease lease, long acquiredAt)
    {
        Lease = lease;
        renewedAt = acquiredAt;
    }

    public JobLease Lease { get; }

    /// <summary>
    /// Monotonic timestamp at which the last statement that renewed this lease was <em>sent</em> (the acquire, then
    /// each successful beat that found the row). The database stamped the lease no earlier than this, so the lease
    /// cannot expire anywhere before <c>RenewedAt + lease timeout</c>: the self-fencing clock counts from here.
    /// </summary>
    public long RenewedAt => Interlocked.Read(ref renewedAt);

    /// <summary>Records a successful renewal sent at <paramref name="sentAt"/>; an older one never moves the clock back.</summary>
    public void Renewed(long sentAt)
    {
        var current = Interlocked.Read(ref renewedAt);
        while (sentAt > current)
        {
            var seen = Interlocked.CompareExchange(ref renewedAt, sentAt, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

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

    /// <summary>The shutdown drain asked this attempt to stop, even if it was already stopping for another reason.</summary>
    public bool ShutdownAsked => Volatile.Read(ref shutdownAsked);

    /// <summary>
    /// Stops the attempt; the first reason given wins. <see cref="Stopping"/> is cancelled before this returns, but
    /// the callbacks registered on it run on the thread pool: a database command registered there (Npgsql sends its
    /// cancel request synchronously, which waits out the connect timeout on a dead path) must not hold up the
    /// caller, which may be fencing other jobs.
    /// </summary>
    public void Stop(StopReason why)
    {
        if (why == StopReason.Shutdown)
        {
            // Remembered whatever stopped it first: a final write still retrying must give up for the shutdown too.
            Volatile.Write(ref shutdownAsked, true);
        }

        if (Interlocked.CompareExchange(ref reason, (int)why, (int)StopReason.None) == (int)StopReason.None)
        {
            Volatile.Write(ref cancelling, stop.CancelAsync());
        }
    }

    public void Dispose()
    {
        // Callbacks still running on the pool keep the source until they are done.
        if (Volatile.Read(ref cancelling) is { IsCompleted: false } pending)
        {
            pending.ContinueWith(_ => stop.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return;
        }

        stop.Dispose();
    }
}
