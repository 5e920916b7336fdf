using Consumers.Runtime.Jobs;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Quartz;

namespace Consumers.Runtime.Control;

/// <summary>
/// Deletes finished jobs (and their events) past their retention, in bounded batches of short statements. Quartz runs
/// it on the clustered store beside the recovery sweep, so one process in the system prunes at a time.
/// </summary>
[DisallowConcurrentExecution]
public sealed partial class RetentionJob(JobStore store, ConsumersMetrics metrics, IOptions<RetentionOptions> options, ILogger<RetentionJob> logger) : IJob
{
    public static readonly JobKey Key = new("retention", "consumers");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var retention = options.Value;
        var total = 0;
        for (var batch = 0; batch < retention.MaxBatchesPerRun; batch++)
        {
            var deleted = await store.PruneFinishedAsync(retention, cancellationToken);
            foreach (var (status, count) in deleted)
            {
                metrics.PrunedJobs.Add(count, new KeyValuePair<string, object?>("status", status));
                total += count;
            }

            if (deleted.Values.Sum() < retention.BatchSize)
            {
                break;
            }
        }

        if (total > 0)
        {
            LogPruned(total);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention deleted {Count} finished jobs with their events")]
    private partial void LogPruned(int count);
}
