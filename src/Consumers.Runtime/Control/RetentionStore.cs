using Consumers.Runtime.Jobs;
using Consumers.Runtime.Jobs.Sql;
using Npgsql;
using NpgsqlTypes;

namespace Consumers.Runtime.Control;

/// <summary>What retention deletes in one batch, or would delete now: jobs and pipelines by status, and operator actions.</summary>
public sealed record PruneCounts(IReadOnlyDictionary<string, int> Jobs, IReadOnlyDictionary<string, int> Pipelines, int OperatorActions)
{
    public int JobTotal => Jobs.Values.Sum();

    public int PipelineTotal => Pipelines.Values.Sum();

    public PruneCounts Plus(PruneCounts other) => new(Add(Jobs, other.Jobs), Add(Pipelines, other.Pipelines), OperatorActions + other.OperatorActions);

    private static Dictionary<string, int> Add(IReadOnlyDictionary<string, int> a, IReadOnlyDictionary<string, int> b)
    {
        var sum = new Dictionary<string, int>(a, StringComparer.Ordinal);
        foreach (var (key, count) in b)
        {
            sum[key] = sum.GetValueOrDefault(key) + count;
        }

        return sum;
    }
}

/// <summary>
/// Retention's deletes, one bounded statement each: finished jobs (with their events and checkpoints) through
/// <see cref="JobStore"/>, finished pipelines (with their steps and timeline) and old operator actions here.
/// </summary>
public sealed class RetentionStore(JobStore jobs, NpgsqlDataSource dataSource)
{
    /// <summary>One batch of each kind: at most <see cref="RetentionOptions.BatchSize"/> rows of jobs, of pipelines and of actions.</summary>
    public async Task<PruneCounts> PruneBatchAsync(RetentionOptions retention, CancellationToken cancellationToken)
    {
        // Pipelines first: their step jobs are kept while the pipeline row is, so they can go in the same batch.
        var pipelines = await CountsAsync(RetentionSql.PrunePipelines, retention, batch: true, cancellationToken);
        var prunedJobs = await jobs.PruneFinishedAsync(retention, cancellationToken);
        var actions = await CountAsync(RetentionSql.PruneOperatorActions, retention, batch: true, cancellationToken);
        return new PruneCounts(prunedJobs, pipelines, actions);
    }

    /// <summary>What <see cref="PruneBatchAsync"/> would delete now, all batches together (for <c>consumers prune --dry-run</c>).</summary>
    public async Task<PruneCounts> CountPrunableAsync(RetentionOptions retention, CancellationToken cancellationToken) => new(
        await jobs.CountPrunableAsync(retention, cancellationToken),
        await CountsAsync(RetentionSql.CountPrunablePipelines, retention, batch: false, cancellationToken),
        await CountAsync(RetentionSql.CountPrunableOperatorActions, retention, batch: false, cancellationToken));

    private async Task<IReadOnlyDictionary<string, int>> CountsAsync(string sql, RetentionOptions retention, bool batch, CancellationToken cancellationToken)
    {
        await using var command = Command(sql, retention, batch);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[reader.GetString(0)] = reader.GetInt32(1);
        }

        return counts;
    }

    private async Task<int> CountAsync(string sql, RetentionOptions retention, bool batch, CancellationToken cancellationToken)
    {
        await using var command = Command(sql, retention, batch);
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private NpgsqlCommand Command(string sql, RetentionOptions retention, bool batch)
    {
        var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter("keep_succeeded", NpgsqlDbType.Interval) { Value = retention.Succeeded });
        command.Parameters.Add(new NpgsqlParameter("keep_failed", NpgsqlDbType.Interval) { Value = retention.Failed });
        command.Parameters.Add(new NpgsqlParameter("keep_cancelled", NpgsqlDbType.Interval) { Value = retention.Cancelled });
        command.Parameters.Add(new NpgsqlParameter("keep_actions", NpgsqlDbType.Interval) { Value = retention.OperatorActions });
        if (batch)
        {
            command.Parameters.Add(new NpgsqlParameter("batch", NpgsqlDbType.Integer) { Value = Math.Max(1, retention.BatchSize) });
        }

        return command;
    }
}
