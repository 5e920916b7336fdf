using System.Diagnostics;
using Consumers.Contracts;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Persistence;
using Consumers.Runtime.Telemetry;
using Consumers.Runtime.Timeline;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// Writes an attempt's final transition and turns what happened to the write into the attempt's outcome. A connection
/// lost while writing (PostgreSQL restarting, the session terminated, out of connections) does not end the attempt:
/// the write is retried with backoff for up to <see cref="WorkerOptions.CommitRetryTimeout"/>. Retrying is safe
/// because every final write is fenced by the lease token and status: it lands at most once, and not at all once
/// another attempt or the sweep moved the job.
/// </summary>
public sealed partial class OutcomeWriter(
    JobStore store,
    ConsumersMetrics metrics,
    IOptions<WorkerOptions> workerOptions,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<OutcomeWriter> logger)
{
    /// <summary>
    /// Writes with <paramref name="write"/> and returns <paramref name="written"/> when it landed, else
    /// <see cref="AttemptOutcome.LeaseLost"/> (fenced) or <see cref="AttemptOutcome.CommitLost"/> (PostgreSQL away).
    /// A retry that finds the row moved checks whether this attempt's own earlier write landed (<paramref name="last"/>
    /// is in the timeline) before calling it a lost lease. Shutdown (or <paramref name="giveUp"/>) stops the retrying.
    /// </summary>
    public async Task<AttemptOutcome> WriteAsync(ActiveJob job, TimelineEntry last, Func<CancellationToken, Task<bool>> write,
        AttemptOutcome written, CancellationToken giveUp = default)
    {
        var retryFor = workerOptions.Value.CommitRetryTimeout;
        var started = time.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(200);
        var retried = false;
        while (true)
        {
            try
            {
                var landed = await write(CancellationToken.None) || (retried && await store.HasWrittenAsync(job.Lease, last, CancellationToken.None));
                if (retried)
                {
                    metrics.CommitRetries.Add(1, new KeyValuePair<string, object?>("outcome", landed ? "written" : "fenced"));
                    LogCommitSettled(job.Lease.JobId, landed ? "written" : "fenced");
                }

                return landed ? written : LeaseLost(job);
            }
            catch (Exception ex) when (DatabaseFailures.IsUnavailable(ex))
            {
                if (time.GetElapsedTime(started) >= retryFor || job.ShutdownAsked || giveUp.IsCancellationRequested)
                {
                    metrics.CommitRetries.Add(1, new KeyValuePair<string, object?>("outcome", "given_up"));
                    LogCommitGivenUp(job.Lease.JobId, job.Lease.Attempt, time.GetElapsedTime(started).TotalSeconds, ex.Message);
                    return AttemptOutcome.CommitLost;
                }

                if (!retried)
                {
                    LogCommitRetrying(job.Lease.JobId, ex.Message);
                }

                retried = true;
                await Task.Delay(delay, time, giveUp).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }
    }

    /// <summary>A cancelled running attempt ends the job as <c>cancelled</c> (<c>where</c> = running).</summary>
    public async Task<AttemptOutcome> CancelAsync(ActiveJob job, string stageLabel)
    {
        job.MarkFinishing();
        var outcome = await WriteAsync(job, TimelineEntries.CancelledRunning(), token => store.CancelRunningAsync(job.Lease, token), AttemptOutcome.Cancelled);
        if (outcome == AttemptOutcome.Cancelled)
        {
            metrics.Cancellations.Add(1, new TagList { { "stage", stageLabel }, { "where", "running" } });
            LogCancelled();
        }

        return outcome;
    }

    /// <summary>
    /// An attempt that failed while a cancel of its job was recorded but not yet read here (the control poll reads twice
    /// a second), or that failed because of the cancel (a segment job whose transcode was cancelled), ends the job as
    /// <c>cancelled</c> instead: the operator asked for it to stop. A read first (a failing segment job or pipeline step
    /// takes no lock on its parent for nothing), then one fenced try; null when no cancel is recorded or the cancel could
    /// not be written (the failure is then written as usual, retried if need be).
    /// </summary>
    public async Task<AttemptOutcome?> CancelIfRequestedAsync(ActiveJob job, string stageLabel, Exception failure)
    {
        if (DatabaseFailures.IsUnavailable(failure))
        {
            return null;
        }

        try
        {
            if (!await store.IsCancelRequestedAsync(job.Lease, CancellationToken.None)
                || !await store.CancelRunningAsync(job.Lease, CancellationToken.None))
            {
                return null;
            }
        }
        catch (Exception ex)
        {
            // Whatever went wrong here, the failure must still be written.
            LogCancelCheckFailed(job.Lease.JobId, ex.Message);
            return null;
        }

        job.MarkFinishing();
        metrics.Cancellations.Add(1, new TagList { { "stage", stageLabel }, { "where", "running" } });
        LogCancelledInsteadOfFailed(job.Lease.JobId, failure.Message);
        return AttemptOutcome.Cancelled;
    }

    /// <summary>
    /// Shutting down: the job goes back uncharged in one try (the write does not retry once the drain stopped the
    /// attempt); if PostgreSQL cannot take it, the sweep requeues the job when its lease expires.
    /// </summary>
    public Task<AttemptOutcome> GiveBackOnShutdownAsync(ActiveJob job)
    {
        job.MarkFinishing();
        var events = TimelineEntries.GivenBack(job.Lease.Attempt, "shutdown_timeout", "shutdown");
        return WriteAsync(job, events[^1], token => store.RequeueAsync(job.Lease, chargeAttempt: false, events, token), AttemptOutcome.Requeued);
    }

    /// <summary>
    /// The stage stopped on its own right after a checkpoint because the worker is going down: the job goes back at
    /// once and uncharged, and the next attempt resumes from that checkpoint.
    /// </summary>
    public Task<AttemptOutcome> GiveBackAtCheckpointAsync(ActiveJob job)
    {
        job.MarkFinishing();
        TimelineEntry[] events = [TimelineEntries.RequeuedAtCheckpoint(job.Lease.Attempt)];
        LogStoppedAtCheckpoint(job.Lease.JobId, job.Lease.Attempt);
        return WriteAsync(job, events[^1], token => store.RequeueAsync(job.Lease, chargeAttempt: false, events, token), AttemptOutcome.Requeued);
    }

    /// <summary>
    /// The stage handed its segments to segment jobs: the job waits for them without a lease, uncharged, and the segment
    /// jobs are created and dispatched in the same transaction. A cancel that came first wins: the write is refused, and
    /// the cancel, seen by the heartbeat, ends the attempt (or the sweep does, once the lease expires).
    /// </summary>
    public async Task<AttemptOutcome> WaitForSegmentJobsAsync(ActiveJob job, JobRequested request, Checkpoints.FanOutRequestedException fanOut)
    {
        job.MarkFinishing();
        var lease = job.Lease;
        var segmentJobs = fanOut.Ranges.Select((range, index) => Checkpoints.SegmentJobParameters.For(request, index, range, fanOut.StageParameters)).ToList();
        TimelineEntry[] events = [TimelineEntries.Waiting(lease.Attempt, segmentJobs.Count, fanOut.Segments)];
        var outcome = await WriteAsync(job, events[^1], token => store.WaitForSegmentJobsAsync(lease, segmentJobs, events, token), AttemptOutcome.Waiting);
        if (outcome == AttemptOutcome.Waiting)
        {
            metrics.FanOuts.Add(1);
            LogFannedOut(lease.JobId, lease.Attempt, segmentJobs.Count, fanOut.Segments);
        }

        return outcome;
    }

    /// <summary>
    /// An attempt stopped for its lease gives the job back uncharged if the lease is still its own (it fenced itself
    /// because it could not reach PostgreSQL), once PostgreSQL answers: the job goes back at once instead of waiting for
    /// the sweep, which would charge the attempt and count a lease expiry. That write runs on its own and the delivery
    /// is acknowledged at once: held while PostgreSQL is away it would also hold every delivery prefetched behind it
    /// (an endpoint stops only once its deliveries are done). If the give-back never lands (the process dies, the lease
    /// was taken over) the job is still <c>processing</c> under a dead lease, and the sweep requeues it.
    /// </summary>
    public AttemptOutcome GiveBackAfterLeaseLoss(ActiveJob job)
    {
        var lease = job.Lease;
        job.MarkFinishing();
        var events = TimelineEntries.GivenBack(lease.Attempt, "self_fenced", "self_fenced");
        _ = Task.Run(async () =>
        {
            // A shutdown does not reach this attempt through its stop reason (the first reason wins): stop retrying then.
            var outcome = AttemptOutcome.CommitLost;
            try
            {
                outcome = await WriteAsync(job, events[^1], token => store.RequeueAsync(lease, chargeAttempt: false, events, token),
                    AttemptOutcome.Requeued, lifetime.ApplicationStopping);
            }
            catch (Exception ex)
            {
                // Anything but a lost connection (WriteAsync retries those): the sweep still requeues the job.
                LogCommitGivenUp(lease.JobId, lease.Attempt, 0, ex.Message);
            }

            if (outcome == AttemptOutcome.Requeued)
            {
                LogGivenBack(lease.JobId, lease.Attempt);
            }
            else if (outcome == AttemptOutcome.CommitLost)
            {
                LeaseLost(job);
            }
        });
        return AttemptOutcome.Requeued;
    }

    /// <summary>Counts and logs an attempt whose lease is gone.</summary>
    public AttemptOutcome LeaseLost(ActiveJob job)
    {
        metrics.LeasesLost.Add(1);
        LogLeaseLost(job.Lease.JobId, job.Lease.Attempt);
        return AttemptOutcome.LeaseLost;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: writing the outcome failed ({Error}); retrying while PostgreSQL is unavailable")]
    private partial void LogCommitRetrying(Guid jobId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: outcome settled after retrying ({Settled})")]
    private partial void LogCommitSettled(Guid jobId, string settled);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} attempt {Attempt}: outcome not written after {Seconds:F0}s ({Error}); the recovery sweep requeues the job when its lease expires")]
    private partial void LogCommitGivenUp(Guid jobId, int attempt, double seconds, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cancelled on request: stage stopped, scratch removed")]
    private partial void LogCancelled();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: could not check for a cancel request before writing the attempt's failure ({Error})")]
    private partial void LogCancelCheckFailed(Guid jobId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: cancelled on request; the attempt's failure ({Failure}) came after the request and is not recorded as the outcome")]
    private partial void LogCancelledInsteadOfFailed(Guid jobId, string failure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} attempt {Attempt} stopped by self-fencing but still held its lease: requeued uncharged")]
    private partial void LogGivenBack(Guid jobId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} attempt {Attempt} lost its lease; nothing of it was committed")]
    private partial void LogLeaseLost(Guid jobId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} attempt {Attempt} fanned out: {SegmentJobs} segment job(s) encode its {Segments} segments; it waits for them without a lease")]
    private partial void LogFannedOut(Guid jobId, int attempt, int segmentJobs, int segments);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} attempt {Attempt} stopped at a checkpoint for the shutdown: requeued uncharged to resume elsewhere")]
    private partial void LogStoppedAtCheckpoint(Guid jobId, int attempt);
}
