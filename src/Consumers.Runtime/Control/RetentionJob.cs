using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Quartz;

namespace Consumers.Runtime.Control;

/// <summary>
/// Deletes what retention lets go, in bounded batches of short statements: finished jobs (with their events and
/// checkpoints), finished pipelines (with their steps and timeline) and old operator actions. Quartz runs it on the
/// clustered store beside the recovery sweep, so one process in the system prunes at a time.
/// </summary>
[DisallowConcurrentExecution]
public sealed partial class RetentionJob(RetentionStore store, ConsumersMetrics metrics, IOptions<RetentionOptions> options, ILogger<RetentionJob> logger) : IJob
{
    public static readonly JobKey Key = new("retention", "consumers");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var retention = options.Value;
        var total = new PruneCounts(new Dictionary<string, int>(), new Dictionary<string, int>(), 0);
        for (var batch = 0; batch < retention.MaxBatchesPerRun; batch++)
        {
            var deleted = await store.PruneBatchAsync(retention, cancellationToken);
            Count(deleted);
            total = total.Plus(deleted);
            if (!IsFull(deleted, retention.BatchSize))
            {
                break;
            }
        }

        if (total.JobTotal + total.PipelineTotal + total.OperatorActions > 0)
        {
            LogPruned(total.JobTotal, total.PipelineTotal, total.OperatorActions);
        }
    }

    /// <summary>Another batch is worth it while any kind filled its batch: more of that kind may be waiting.</summary>
    public static bool IsFull(PruneCounts batch, int batchSize) =>
        batch.JobTotal >= batchSize || batch.PipelineTotal >= batchSize || batch.OperatorActions >= batchSize;

    private void Count(PruneCounts deleted)
    {
        foreach (var (status, count) in deleted.Jobs)
        {
            metrics.PrunedJobs.Add(count, new KeyValuePair<string, object?>("status", status));
        }

        foreach (var (status, count) in deleted.Pipelines)
        {
            metrics.PrunedPipelines.Add(count, new KeyValuePair<string, object?>("status", status));
        }

        metrics.PrunedOperatorActions.Add(deleted.OperatorActions);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention deleted {Jobs} finished jobs with their events, {Pipelines} finished pipelines and {Actions} operator actions")]
    private partial void LogPruned(int jobs, int pipelines, int actions);
}
