namespace Consumers.Runtime.Cluster;

/// <summary>
/// What a holder knows about its own lease, judged by its monotonic clock alone: the lease is held until
/// <c>duration</c> after the moment the last successful acquire or renew was <em>sent</em>. The server started
/// its expiry no earlier than that, so the holder always believes it has lost the role before anyone can take
/// it over, and a process that was frozen finds on waking that its time has run out, whatever its clock of day says.
/// </summary>
internal sealed class HeldLease(string name, long generation, TimeSpan duration, long sentTimestamp, TimeProvider time)
{
    private long validUntil = sentTimestamp + ToTicks(duration, time);
    private volatile bool lost;

    public string Name { get; } = name;

    public long Generation { get; } = generation;

    /// <summary>True while the lease is certainly this holder's: not refused by the server and not past its local expiry.</summary>
    public bool IsHeld => !lost && time.GetTimestamp() < Interlocked.Read(ref validUntil);

    /// <summary>How much of the lease is left by the local clock (zero once it is not held).</summary>
    public TimeSpan Remaining => IsHeld ? time.GetElapsedTime(time.GetTimestamp(), Interlocked.Read(ref validUntil)) : TimeSpan.Zero;

    /// <summary>A renew sent at <paramref name="sentTimestamp"/> succeeded: the lease runs <paramref name="duration"/> from then.</summary>
    public void Renewed(long sentTimestamp, TimeSpan duration)
    {
        var until = sentTimestamp + ToTicks(duration, time);
        long current;
        do
        {
            current = Interlocked.Read(ref validUntil);
            if (until <= current)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref validUntil, until, current) != current);
    }

    /// <summary>The server refused a renew: someone else has the role, or it expired.</summary>
    public void MarkLost() => lost = true;

    private static long ToTicks(TimeSpan duration, TimeProvider time) => (long)(duration.TotalSeconds * time.TimestampFrequency);
}
