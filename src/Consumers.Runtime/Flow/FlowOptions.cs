using Consumers.Runtime.Flow.Adaptive;
using Consumers.Runtime.Flow.Backpressure;
using Consumers.Runtime.Flow.Lanes;

namespace Consumers.Runtime.Flow;

/// <summary>Settings under <c>Consumers:Flow</c>.</summary>
public sealed class FlowOptions : Settings.IValidatedSettings
{
    public const string Section = "Consumers:Flow";

    /// <summary>The key this setting had before it moved here; still read, with a warning at start, when the new key is absent.</summary>
    public const string LegacyConcurrentJobsKey = "Consumers:RabbitMq:ConcurrentJobs";

    /// <summary>
    /// Jobs one worker runs at once, across all lanes: the worker's slots, and the shared lane's
    /// (its endpoint's MassTransit <c>ConcurrentMessageLimit</c>).
    /// </summary>
    public int ConcurrentJobs { get; set; } = 8;

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

    /// <inheritdoc />
    public IReadOnlyList<string> Problems()
    {
        var rules = new Settings.SettingsRules(Section)
            .Require(ConcurrentJobs >= 1, nameof(ConcurrentJobs), $"must be at least 1 (is {ConcurrentJobs})")
            .Positive(DrainTimeout, nameof(DrainTimeout))
            .Positive(AbortTimeout, nameof(AbortTimeout))
            .Require(OutboxFlushTimeout >= TimeSpan.Zero, nameof(OutboxFlushTimeout), "must not be negative")
            .Positive(Backpressure.SampleInterval, "Backpressure:SampleInterval")
            .Fraction(Backpressure.CpuLowWatermark, "Backpressure:CpuLowWatermark")
            .Require(Backpressure.CpuHighWatermark > Backpressure.CpuLowWatermark, "Backpressure:CpuHighWatermark",
                $"must be above CpuLowWatermark ({Backpressure.CpuLowWatermark}); above 1 never pauses for CPU")
            .Require(Backpressure.QueueLowWatermark >= 0 && Backpressure.QueueHighWatermark > Backpressure.QueueLowWatermark, "Backpressure:QueueHighWatermark",
                $"must be above QueueLowWatermark ({Backpressure.QueueLowWatermark}), which must not be negative")
            .Require(Backpressure.MinPause >= TimeSpan.Zero, "Backpressure:MinPause", "must not be negative")
            .Require(Uri.TryCreate(Backpressure.ManagementUri, UriKind.Absolute, out _), "Backpressure:ManagementUri", "must be an absolute URI")
            .Positive(Adaptive.Interval, "Adaptive:Interval")
            .Fraction(Adaptive.CpuLow, "Adaptive:CpuLow")
            .Require(Adaptive.CpuHigh > Adaptive.CpuLow && Adaptive.CpuHigh <= 1, "Adaptive:CpuHigh", $"must be above CpuLow ({Adaptive.CpuLow}) and at most 1")
            .Fraction(Adaptive.DecreaseFactor, "Adaptive:DecreaseFactor")
            .Require(Adaptive.SharedMinSlots >= 1, "Adaptive:SharedMinSlots", "must be at least 1");
        foreach (var (stage, slots) in Stages)
        {
            rules.Require(slots.Slots >= 0, $"Stages:{stage}:Slots", "must not be negative")
                .Require(slots.MinSlots >= 1 && (slots.Slots == 0 || slots.MinSlots <= slots.Slots), $"Stages:{stage}:MinSlots",
                    $"must be at least 1 and at most Slots ({slots.Slots})");
        }

        return rules.Problems;
    }
}
