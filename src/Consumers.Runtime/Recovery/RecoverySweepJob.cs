using Consumers.Runtime.Leases;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Quartz;

namespace Consumers.Runtime.Recovery;

/// <summary>
/// The recovery sweep, run by Quartz on a clustered store so that one process in the whole system
/// sweeps at a time. Each run recovers dead or hung attempts and dispatches queued jobs that are due, batch
/// after batch until nothing is left, then advances pipelines whose steps ended on a path that does not advance them and dispatches fanned-out
/// transcodes whose segment jobs all ended without dispatching them.
/// </summary>
[DisallowConcurrentExecution]
public sealed partial class RecoverySweepJob(
    RecoveryStore store,
    Jobs.JobStore jobs,
    Pipelines.PipelineStore pipelines,
    ConsumersMetrics metrics,
    IOptions<RecoveryOptions> options,
    IOptions<LeaseOptions> leaseOptions,
    Flow.DatabaseMonitor database,
    ILogger<RecoverySweepJob> logger) : IJob
{
    public static readonly JobKey Key = new("recovery-sweep", "consumers");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var outcome = "failed";
        try
        {
            await SweepAsync(cancellationToken);
            outcome = "ok";
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutdown, not a failure: the next sweep (on whichever worker) picks up where this one stopped.
            outcome = "cancelled";
            throw;
        }
        finally
        {
            metrics.RecoverySweeps.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
            metrics.RecoverySweepDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    /// <summary>One full sweep; returns what it did (or, in dry-run mode, would do).</summary>
    public async Task<IReadOnlyList<RecoveredJob>> SweepAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var dryRun = settings.DryRun;
        var minLease = MinLeaseSeconds(leaseOptions.Value);
        var all = new List<RecoveredJob>();
        // Right after an outage every lease looks expired, also those of live workers whose self-fenced attempts are
        // giving their jobs back uncharged as this worker reconnects; swept first, those would come back as suspects
        // and run alone. A sweeper that could not reach PostgreSQL either cannot tell them from dead workers: it waits
        // one lease for them to renew or give back before it judges leases again (dispatching goes on meanwhile).
        var answering = database.AnsweringFor;
        var judgeLeases = answering >= TimeSpan.FromSeconds(minLease);
        if (!judgeLeases)
        {
            LogLeasesNotJudged(answering.TotalSeconds, minLease);
        }

        while (judgeLeases)
        {
            var batch = await store.RecoverStaleAsync(settings, minLease, dryRun, cancellationToken);
            all.AddRange(batch);
            if (dryRun || batch.Count < settings.BatchSize)
            {
                break;
            }
        }

        while (!dryRun)
        {
            // Cancels no worker will carry out: the attempt died, or a retry put the job back in the queue meanwhile.
            var batch = await jobs.CancelAbandonedAsync(settings.BatchSize, cancellationToken);
            foreach (var job in batch)
            {
                metrics.Cancellations.Add(1, new System.Diagnostics.TagList { { "stage", job.Stage }, { "where", job.Where } });
                LogCancelled(job.JobId, job.Where);
            }

            if (batch.Count < settings.BatchSize)
            {
                break;
            }
        }

        while (true)
        {
            var batch = await store.DispatchDueAsync(settings, dryRun, cancellationToken);
            all.AddRange(batch);
            if (dryRun || batch.Count < settings.BatchSize)
            {
                break;
            }
        }

        if (!dryRun)
        {
            // Steps that ended here (stale leases, abandoned cancels) or by an operator's cancel: record them, skip or
            // dispatch what follows, finish pipelines. One batch a sweep; the next sweep takes the rest.
            foreach (var pipelineId in await pipelines.StalledAsync(settings.BatchSize, cancellationToken))
            {
                if (await pipelines.AdvanceAsync(pipelineId, cancellationToken) > 0)
                {
                    LogPipelineAdvanced(pipelineId);
                }
            }

            // Fanned-out transcodes whose last segment job ended on a path that does not dispatch them (the stale sweep
            // failed it, an operator cancelled it, the write that should have released it was lost): dispatch them now.
            foreach (var jobId in await jobs.ReleaseStalledFanOutsAsync(settings.BatchSize, cancellationToken))
            {
                LogFanOutReleased(jobId);
            }
        }

        foreach (var job in all)
        {
            if (dryRun)
            {
                LogWouldRecover(job.JobId, job.Outcome);
                continue;
            }

            if (job.Outcome != "dispatched")
            {
                var reason = job.Outcome switch { "requeued_hung" => "hung", "requeued_stale" => "stale", _ => job.Outcome };
                metrics.RecoveredJobs.Add(1, new KeyValuePair<string, object?>("reason", reason));
                LogRecovered(job.JobId, job.Outcome, job.PreviousWorker);
            }
        }

        return all;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recovery sweep: PostgreSQL has answered this worker for {AnsweringSeconds:F1}s only, since an outage; no lease is judged stale until it has for {LeaseSeconds:F0}s, so live workers can give their stopped attempts back first")]
    private partial void LogLeasesNotJudged(double answeringSeconds, double leaseSeconds);

    // The smallest lease any stage has: rows fresher than this cannot be stale, which lets the index bound the scan.
    private static double MinLeaseSeconds(LeaseOptions leases) => leases.ShortestLeaseTimeout.TotalSeconds;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovered job {JobId}: {Outcome} (its attempt on {PreviousWorker} stopped heartbeating or overran its deadline)")]
    private partial void LogRecovered(Guid jobId, string outcome, string? previousWorker);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cancelled job {JobId} on its pending request ({Where}): no worker was left to stop it")]
    private partial void LogCancelled(Guid jobId, string where);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: its segment jobs had all finished; the sweep dispatched it to join them")]
    private partial void LogFanOutReleased(Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pipeline {PipelineId}: the sweep dispatched steps that were ready")]
    private partial void LogPipelineAdvanced(Guid pipelineId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dry run: would recover job {JobId}: {Outcome}")]
    private partial void LogWouldRecover(Guid jobId, string outcome);
}
