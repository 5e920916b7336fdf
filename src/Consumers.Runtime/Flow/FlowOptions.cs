namespace Consumers.Runtime.Flow;

/// <summary>Settings under <c>Consumers:Flow</c>.</summary>
public sealed class FlowOptions
{
    public const string Section = "Consumers:Flow";

    /// <summary>On SIGTERM, running jobs get this long to finish before they are aborted and requeued.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long aborted jobs get to record their requeue.</summary>
    public TimeSpan AbortTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the relay gets, at the end of a shutdown, to publish what is left in the outbox.</summary>
    public TimeSpan OutboxFlushTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public BackpressureOptions Backpressure { get; set; } = new();

    /// <summary>
    /// Stages that run in a lane of their own: a queue (<c>&lt;JobQueue&gt;.&lt;stage&gt;</c>) and slots of their own
    /// inside the worker's <c>ConcurrentJobs</c>, so long jobs of one stage cannot take every slot. Transcodes
    /// have a lane of two slots unless configured otherwise.
    /// </summary>
    public Dictionary<string, StageSlotOptions> Stages { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["transcode"] = new() { Slots = 2 },
    };

    public AdaptiveConcurrencyOptions Adaptive { get; set; } = new();

    /// <summary>The host's own limit: everything above plus a margin, so the worker always exits by itself.</summary>
    public TimeSpan HostShutdownTimeout => DrainTimeout + AbortTimeout + OutboxFlushTimeout + TimeSpan.FromSeconds(15);

    /// <summary>
    /// The last resort: a worker still running this long after SIGTERM (a library stuck retrying a dead database
    /// or broker while it stops) exits at once. Jobs were drained or requeued by then; what is left is the sweep's.
    /// </summary>
    public TimeSpan ForcedExitAfter => HostShutdownTimeout + TimeSpan.FromSeconds(10);
}
