namespace Consumers.Runtime.Progress;

/// <summary>
/// Decides which progress reports become timeline events: only when the percent grew by at least
/// <see cref="MinDelta"/>, or when <see cref="MinInterval"/> passed and it grew at all. Never backwards.
/// </summary>
public sealed class ProgressThrottle(int minDelta, TimeSpan minInterval, TimeProvider time)
{
    private int lastEmitted;
    private long lastEmittedAt = time.GetTimestamp();

    public int MinDelta { get; } = Math.Max(1, minDelta);

    public TimeSpan MinInterval { get; } = minInterval;

    /// <summary>The highest percent reported so far (what the heartbeat persists).</summary>
    public int Latest { get; private set; }

    /// <summary>Records a report; returns the percent to emit, or null to stay quiet.</summary>
    public int? Offer(double percent)
    {
        var value = (int)Math.Clamp(Math.Floor(percent), 0, 100);
        if (value <= Latest && Latest > 0)
        {
            return null;
        }

        Latest = Math.Max(Latest, value);
        var grown = Latest - lastEmitted;
        if (grown <= 0 || Latest >= 100)
        {
            // 100 is emitted with completion, so that "progress 100" is never followed by a failure of the same attempt.
            return null;
        }

        if (grown >= MinDelta || time.GetElapsedTime(lastEmittedAt) >= MinInterval)
        {
            lastEmitted = Latest;
            lastEmittedAt = time.GetTimestamp();
            return Latest;
        }

        return null;
    }
}
