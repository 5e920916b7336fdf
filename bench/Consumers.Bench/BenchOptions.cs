using Consumers.Runtime.Messaging;

namespace Consumers.Bench;

/// <summary>Sizes and settings of one run; the defaults finish in well under ten minutes on two cores.</summary>
public sealed record BenchOptions
{
    public static readonly IReadOnlyList<string> AllSections = ["baseline", "throughput", "latency", "media", "recovery", "adaptive", "cost", "retention", "faults", "long-jobs"];

    /// <summary>What runs without <c>--only</c>: all but <c>long-jobs</c>, which encodes a 5-minute source three times (several minutes).</summary>
    public static IReadOnlyList<string> DefaultSections => [.. AllSections.Where(s => s != "long-jobs")];

    public IReadOnlySet<string> Sections { get; init; } = DefaultSections.ToHashSet();

    /// <summary>No-op jobs per throughput run.</summary>
    public int Jobs { get; init; } = 10_000;

    /// <summary>Messages in the pre-filled queue of the consumer baselines.</summary>
    public int BaselineMessages { get; init; } = 5000;

    public int BaselineRuns { get; init; } = 3;

    public int ThroughputRuns { get; init; } = 1;

    public IReadOnlyList<int> WorkerCounts { get; init; } = [1, 2];

    /// <summary>Jobs one worker runs at once (Consumers:Flow:ConcurrentJobs).</summary>
    public int Concurrency { get; init; } = new Runtime.Flow.FlowOptions().ConcurrentJobs;

    /// <summary>The worker's prefetch for that concurrency; the baselines use the same.</summary>
    public int Prefetch => new RabbitMqOptions().PrefetchFor(Concurrency);

    /// <summary>Concurrent connections of the raw commit baseline; default: one per job slot, what the worker can use at once.</summary>
    public int? CommitConnections { get; init; }

    public int EffectiveCommitConnections => CommitConnections ?? Concurrency;

    public int CommitSeconds { get; init; } = 10;

    /// <summary>Offered rate of the latency section; default half the one-worker saturation measured in this run.</summary>
    public double? LatencyRate { get; init; }

    public int LatencySeconds { get; init; } = 20;

    /// <summary>Clips the media section transcodes (plain and as jobs), and their length; 720p with audio.</summary>
    public int MediaClips { get; init; } = 6;

    public int MediaClipSeconds { get; init; } = 30;

    /// <summary>No-op jobs of each Hangfire peer run in the throughput section (0: no peer run).</summary>
    public int HangfireJobs { get; init; } = 2000;

    public int RecoveryKills { get; init; } = 5;

    public int RecoveryJobMilliseconds { get; init; } = 4000;

    public int RecoveryBoundSeconds { get; init; } = 120;

    /// <summary>How many times the faults section injects each fault.</summary>
    public int FaultRuns { get; init; } = 5;

    public static readonly IReadOnlyList<string> AllFaults = ["plain", "relay", "outage", "broker"];

    /// <summary>Fault kinds the faults section injects (<see cref="AllFaults"/>), so one can be run alone.</summary>
    public IReadOnlySet<string> Faults { get; init; } = AllFaults.ToHashSet();

    /// <summary>Adds the 5-minute database outage (about 6 minutes per run) to the 30-second one.</summary>
    public bool FaultLong { get; init; }

    public int BacklogJobs { get; init; } = 10_000;

    public int BacklogSampleSeconds { get; init; } = 15;

    /// <summary>Finished jobs the retention section fills and prunes.</summary>
    public int RetentionJobs { get; init; } = 1_000_000;

    /// <summary>CPU-heavy jobs of the adaptive section's mixed workload, and the CPU each burns.</summary>
    public int AdaptiveHeavyJobs { get; init; } = 16;

    public int AdaptiveHeavyCpuMs { get; init; } = 1000;

    /// <summary>No-op jobs of the adaptive section's mixed workload.</summary>
    public int AdaptiveLightJobs { get; init; } = 400;

    /// <summary>Max Auto Prepare of the workers' connection string (the shipped appsettings.json says 64; 0 turns it off).</summary>
    public int MaxAutoPrepare { get; init; } = 64;

    /// <summary>Extra worker settings (Consumers:... keys) for experiments, e.g. a log level; reported with the results.</summary>
    public IReadOnlyDictionary<string, string?> WorkerSettings { get; init; } = new Dictionary<string, string?>();

    public string OutputDirectory { get; init; } = "";

    /// <summary>Length of the long-jobs section's generated source, in seconds (at least 300: the 5 minutes).</summary>
    public int LongJobSourceSeconds { get; init; } = 300;

    /// <summary>Segment length of the long-jobs section's segmented runs (Consumers:Media:SegmentSeconds).</summary>
    public int LongJobSegmentSeconds { get; init; } = 10;
}
