namespace Consumers.Runtime.Flow.Backpressure;

/// <summary>
/// The pause decision, with hysteresis: pause when a signal goes above its high watermark, resume only when
/// every signal is at or below its low watermark and the minimum pause has passed. A missing sample (the
/// management API did not answer) never causes a pause by itself.
/// </summary>
internal sealed class PressureGate(BackpressureOptions options, TimeProvider time)
{
    private long pausedAt;

    public bool IsPaused { get; private set; }

    /// <summary>Why the current pause started (cpu or queue).</summary>
    public string? Reason { get; private set; }

    /// <summary>Returns true when the state changed.</summary>
    public bool Evaluate(double? cpu, long? deepestQueue)
    {
        if (!IsPaused)
        {
            var reason = cpu > options.CpuHighWatermark ? "cpu" : deepestQueue > options.QueueHighWatermark ? "queue" : null;
            if (reason is null)
            {
                return false;
            }

            (IsPaused, Reason, pausedAt) = (true, reason, time.GetTimestamp());
            return true;
        }

        var calm = (cpu is null || cpu <= options.CpuLowWatermark) && (deepestQueue is null || deepestQueue <= options.QueueLowWatermark);
        if (calm && time.GetElapsedTime(pausedAt) >= options.MinPause)
        {
            (IsPaused, Reason) = (false, null);
            return true;
        }

        return false;
    }
}
