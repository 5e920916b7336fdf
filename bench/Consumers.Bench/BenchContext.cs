using Consumers.Bench.Infrastructure;

namespace Consumers.Bench;

/// <summary>What the sections share: the environment, the settings, and figures later sections build on.</summary>
public sealed class BenchContext(BenchEnvironment environment, BenchOptions options)
{
    public BenchEnvironment Environment { get; } = environment;
    public BenchOptions Options { get; } = options;

    /// <summary>Median bare-consumer drain rate (msg/s), when the baseline section ran.</summary>
    public double? BareConsumerRate { get; set; }

    /// <summary>Median consumer-with-one-update drain rate (msg/s).</summary>
    public double? ConsumerWithUpdateRate { get; set; }

    /// <summary>Median raw single-row commit rate (commits/s).</summary>
    public double? RawCommitRate { get; set; }

    /// <summary>No-op jobs/s of one worker process, when the throughput section ran.</summary>
    public double? OneWorkerSaturation { get; set; }

    /// <summary>Statements and transactions per job from the measured throughput run.</summary>
    public StatementCounts? StatementCounts { get; set; }
}

public sealed record StatementCounts(double StatementsPerJob, double SessionResetsPerJob, double TransactionControlPerJob, double TransactionsPerJob, IReadOnlyList<(string Query, double PerJob)> Top, int Jobs);
