using System.Diagnostics;
using System.Globalization;
using Consumers.Contracts;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Checkpoints;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Flow;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Persistence;
using Consumers.Runtime.Progress;
using Consumers.Runtime.Scratch;
using Consumers.Runtime.Stages;
using Consumers.Runtime.Telemetry;
using Consumers.Runtime.Timeline;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// Runs one delivered request from acquire to outcome: lease, validation, existing-artifact check, stage in a
/// scratch folder, validation and atomic commit of the output, and the fenced final transition. Every outcome
/// is one committed state change with its timeline events; an attempt that lost its lease writes nothing.
/// </summary>
public sealed partial class JobRunner(
    JobStore store,
    StageRegistry stages,
    IArtifactStore artifacts,
    ScratchSpace scratch,
    CheckpointStore checkpoints,
    WorkFolders workFolders,
    ActiveJobRegistry activeJobs,
    JobLanes lanes,
    JobIntake intake,
    ConsumersMetrics metrics,
    IOptions<WorkerOptions> workerOptions,
    IOptions<LeaseOptions> leaseOptions,
    IOptions<RetryOptions> retryOptions,
    IOptions<ArtifactOptions> artifactOptions,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<JobRunner> logger)
{
    /// <summary>
    /// Handles one delivery; returns once the outcome is committed (or known to be someone else's). A
    /// <paramref name="requestProblem"/> (a body that did not fit the contract) fails the acquired job at once with it.
    /// </summary>
    public async Task<AcquireOutcomeKind> RunAsync(JobRequested request, CancellationToken cancellationToken, JobFailureException? requestProblem = null)
    {
        var stageLabel = StageLabel(request.Stage);
        var leases = leaseOptions.Value;
        var clip = request.ClipDurationSeconds is { } d && double.IsFinite(d) ? d : (double?)null;
        var settings = new AcquireSettings(
            workerOptions.Value.WorkerId,
            (int)Math.Ceiling(leases.LeaseTimeoutFor(stageLabel).TotalSeconds),
            leases.DeadlineFor(clip).TotalSeconds,
            workerOptions.Value.DefaultMaxAttempts);

        if (JobRequestValidator.FindUnstorable(request) is { } unstorable)
        {
            return await RefuseAsync(request, unstorable, stageLabel, settings.DefaultMaxAttempts, cancellationToken);
        }

        var acquired = await AcquireAsync(request, settings, cancellationToken);
        if (acquired.Outcome.Kind != AcquireOutcomeKind.Suspect)
        {
            return await RunAcquiredAsync(request, acquired, stageLabel, requestProblem);
        }

        // Its earlier attempt died with its worker: take the lease only once nothing else runs here.
        if (!await TakeSoloGateAsync(request.JobId, stageLabel, cancellationToken))
        {
            return AcquireOutcomeKind.Deferred;
        }

        try
        {
            return await RunAcquiredAsync(request, await AcquireAsync(request, settings with { RunsAlone = true }, cancellationToken), stageLabel, requestProblem);
        }
        finally
        {
            lanes.Solo.Release();
        }
    }

    private async Task<Acquired> AcquireAsync(JobRequested request, AcquireSettings settings, CancellationToken cancellationToken)
    {
        using var acquireSpan = ConsumersActivitySource.Source.StartActivity("job.acquire").TagDelivery("acquire");
        acquireSpan?.SetTag("job.id", request.JobId);
        // The lease's clock starts before the acquire is sent: the database stamps it later than this, never earlier.
        var sentAt = time.GetTimestamp();
        var outcome = await store.AcquireAsync(request, settings, cancellationToken);
        acquireSpan?.SetTag("job.acquire.outcome", outcome.Kind.ToString());
        return new Acquired(outcome, sentAt);
    }

    /// <summary>An acquire's outcome and the moment it was sent, from which a lease it took is counted.</summary>
    private readonly record struct Acquired(AcquireOutcome Outcome, long SentAt);

    private async Task<AcquireOutcomeKind> RunAcquiredAsync(JobRequested request, Acquired acquired, string stageLabel, JobFailureException? requestProblem)
    {
        var outcome = acquired.Outcome;
        switch (outcome.Kind)
        {
            case AcquireOutcomeKind.AlreadyFinished:
                metrics.DuplicateSkips.Add(1, new KeyValuePair<string, object?>("stage", stageLabel));
                LogDuplicate(request.JobId, outcome.Status);
                return outcome.Kind;
            case AcquireOutcomeKind.HeldElsewhere or AcquireOutcomeKind.NotDue or AcquireOutcomeKind.Suspect:
                metrics.AcquireConflicts.Add(1, new KeyValuePair<string, object?>("stage", stageLabel));
                LogConflict(request.JobId, outcome.Kind, outcome.Status);
                return outcome.Kind;
        }

        var lease = outcome.Lease!;
        var job = activeJobs.Register(lease, acquired.SentAt);
        metrics.JobStarted(stageLabel);
        var started = time.GetTimestamp();
        using var scope = logger.BeginScope("job {JobId} attempt {Attempt}", lease.JobId, lease.Attempt);
        var result = "unknown";
        try
        {
            result = await RunAttemptAsync(request, job, stageLabel, started, requestProblem);
        }
        finally
        {
            activeJobs.Unregister(job);
            metrics.JobEnded(stageLabel);
            var tags = new TagList { { "stage", stageLabel }, { "outcome", result } };
            metrics.JobOutcomes.Add(1, tags);
            metrics.JobDuration.Record(time.GetElapsedTime(started).TotalSeconds, tags);
        }

        return outcome.Kind;
    }

    /// <summary>
    /// A suspect (an earlier attempt died with its worker) runs alone: it holds the worker's solo gate and waits,
    /// before it takes the lease, for the other running jobs to finish. When another suspect holds the gate or the
    /// intake closes first, the job is handed back to the sweep instead; false then.
    /// </summary>
    private async Task<bool> TakeSoloGateAsync(Guid jobId, string stageLabel, CancellationToken cancellationToken)
    {
        var stage = new KeyValuePair<string, object?>("stage", stageLabel);
        using (var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, intake.Closing))
        {
            var started = time.GetTimestamp();
            if (await lanes.Solo.TryRunAloneAsync(waiting.Token))
            {
                metrics.SuspectJobs.Add(1, stage, new KeyValuePair<string, object?>("outcome", "alone"));
                LogSuspectAlone(jobId, time.GetElapsedTime(started).TotalSeconds);
                return true;
            }
        }

        await store.DeferDispatchAsync(jobId, CancellationToken.None);
        metrics.SuspectJobs.Add(1, stage, new KeyValuePair<string, object?>("outcome", "deferred"));
        LogSuspectDeferred(jobId);
        return false;
    }

    /// <summary>
    /// A request with text the database cannot store never reaches the acquire: its row is written already failed
    /// (<c>INVALID_REQUEST</c> naming the field) from a copy with that text replaced.
    /// </summary>
    private async Task<AcquireOutcomeKind> RefuseAsync(JobRequested request, JobFailureException problem, string stageLabel, int defaultMaxAttempts,
        CancellationToken cancellationToken)
    {
        var sanitized = request with
        {
            Stage = StorableText.Sanitize(request.Stage ?? ""),
            Source = StorableText.Sanitize(request.Source ?? ""),
            OutputKey = StorableText.Sanitize(request.OutputKey ?? ""),
            Parameters = request.Parameters?.ToDictionary(p => StorableText.Sanitize(p.Key), p => StorableText.Sanitize(p.Value ?? ""), StringComparer.Ordinal),
        };
        var maxAttempts = request.MaxAttempts is >= 1 and <= JobRequestLimits.MaxAttempts ? request.MaxAttempts.Value : defaultMaxAttempts;
        if (!await store.RejectAsync(sanitized, maxAttempts, problem.Code, problem.Message, problem.Field!, cancellationToken))
        {
            LogRefusedDuplicate(request.JobId);
            return AcquireOutcomeKind.AlreadyFinished;
        }

        metrics.JobFailures.Add(1, new TagList { { "stage", stageLabel }, { "code", problem.Code }, { "class", "fatal" } });
        LogFailed(problem, problem.Code, problem.Message);
        return AcquireOutcomeKind.Refused;
    }

    /// <summary>A metric label for a stage name: known stages only, so a bad request cannot mint new series.</summary>
    public string StageLabel(string? stage) => stages.TryGet(stage ?? "", out _) ? stage! : "unknown";

    private async Task<string> RunAttemptAsync(JobRequested request, ActiveJob job, string stageLabel, long started, JobFailureException? requestProblem)
    {
        var lease = job.Lease;
        string? scratchPath = null;
        var succeeded = false;
        var cancelled = false;
        var finished = false;
        StageCheckpoint? checkpoint = null;
        try
        {
            if (requestProblem is not null)
            {
                throw requestProblem;
            }

            JobRequestValidator.Validate(request, stages);
            stages.TryGet(request.Stage, out var stage);
            var sourcePath = stage.NeedsSource
                ? PathConfinement.ResolveSource(artifactOptions.Value.EffectiveMediaRoots, request.Source, "source")
                : "";

            if (await TrySkipExistingAsync(request, job, stage) is { } skipOutcome)
            {
                succeeded = true;
                finished = skipOutcome == "skipped";
                return skipOutcome;
            }

            scratchPath = scratch.Create(lease.JobId, lease.Attempt);
            var throttle = new ProgressThrottle(workerOptions.Value.ProgressMinDelta, workerOptions.Value.ProgressMinInterval, time);
            var reporter = new ProgressReporter(job, store, throttle, logger);
            StageOutput output;
            await using (reporter)
            {
                using var stageSpan = ConsumersActivitySource.Source.StartActivity("job.stage").TagDelivery("stage");
                stageSpan?.SetTag("job.id", lease.JobId);
                stageSpan?.SetTag("job.stage", stageLabel);
                stageSpan?.SetTag("job.attempt", lease.Attempt);
                var context = new StageContext(lease.JobId, lease.Attempt, request, sourcePath, scratchPath, reporter)
                {
                    Checkpoint = checkpoint = new StageCheckpoint(job, checkpoints, workFolders, logger),
                    ShutdownRequested = lifetime.ApplicationStopping,
                };
                try
                {
                    output = await stage.RunAsync(context, job.Stopping);
                }
                catch (Exception ex) when (job.Reason == StopReason.None)
                {
                    // A stage that failed on its own (not stopped by a shutdown or a lost lease) fails its span with the code.
                    var error = ErrorClassifier.Classify(ex);
                    stageSpan.Fail(error.Code, error.Message);
                    throw;
                }
            }

            using var commitSpan = ConsumersActivitySource.Source.StartActivity("job.commit").TagDelivery("commit");
            var committed = await CommitAsync(request, job, stage, output);
            if (committed is null)
            {
                return LeaseLost(job);
            }

            var events = new List<TimelineEntry>();
            if (reporter.LastWritten is > 0 and < 100)
            {
                // A job that showed progress ends its progress at 100; a quick one that showed none stays quiet.
                events.Add(TimelineEntry.Of(TimelineEventTypes.Progress, ("percent", "100")));
            }

            events.Add(TimelineEntry.Of(TimelineEventTypes.Completed,
                ("artifactKey", committed.Key),
                ("size", committed.Size.ToString(CultureInfo.InvariantCulture)),
                ("sha256", committed.Sha256),
                ("durationMs", ((long)time.GetElapsedTime(started).TotalMilliseconds).ToString(CultureInfo.InvariantCulture))));
            job.MarkFinishing();
            switch (await SettleAsync(job, events[^1], token => store.SucceedAsync(lease, committed, events, token)))
            {
                case Settled.Fenced:
                    return LeaseLost(job);
                case Settled.Unwritten:
                    // The artifact is in place: whichever attempt runs next finds it and finishes as skipped.
                    succeeded = true;
                    return "commit_lost";
            }

            succeeded = true;
            finished = true;
            LogCompleted(committed.Key, committed.Size);
            return "succeeded";
        }
        catch (Exception) when (job.Reason == StopReason.LeaseLost)
        {
            return GiveBackAfterLeaseLoss(job);
        }
        catch (Exception) when (job.Reason == StopReason.Cancelled)
        {
            // The stage saw the token (ffmpeg's process tree is killed by then); its scratch goes, whatever the settings.
            cancelled = true;
            job.MarkFinishing();
            // Retried through a lost connection like every final write; the event it writes says where it was stopped.
            var written = await SettleAsync(job, TimelineEntry.Of(TimelineEventTypes.Cancelled, ("where", "running")),
                token => store.CancelRunningAsync(lease, token));
            if (written != Settled.Written)
            {
                return written == Settled.Fenced ? LeaseLost(job) : "commit_lost";
            }

            metrics.Cancellations.Add(1, new TagList { { "stage", stageLabel }, { "where", "running" } });
            finished = true;
            LogCancelled();
            return "cancelled";
        }
        catch (StoppedAtCheckpointException) when (job.Reason == StopReason.None)
        {
            // The stage stopped on its own right after a checkpoint because the worker is going down: give the job
            // back at once and uncharged; the next attempt resumes from that checkpoint.
            job.MarkFinishing();
            TimelineEntry[] events =
            [
                new TimelineEntry(TimelineEventTypes.Requeued, new Dictionary<string, string> { ["reason"] = "shutdown", ["at"] = "checkpoint" }, lease.Attempt),
            ];
            LogStoppedAtCheckpoint(lease.JobId, lease.Attempt);
            return await SettleAsync(job, events[^1], token => store.RequeueAsync(lease, chargeAttempt: false, events, token)) switch
            {
                Settled.Written => "requeued",
                Settled.Fenced => LeaseLost(job),
                _ => "commit_lost",
            };
        }
        catch (Exception) when (job.Reason == StopReason.Shutdown)
        {
            job.MarkFinishing();
            TimelineEntry[] events =
            [
                new TimelineEntry(TimelineEventTypes.Aborted, new Dictionary<string, string> { ["reason"] = "shutdown_timeout" }, lease.Attempt),
                new TimelineEntry(TimelineEventTypes.Requeued, new Dictionary<string, string> { ["reason"] = "shutdown" }, lease.Attempt),
            ];
            // Shutting down: one try (SettleAsync does not retry once the drain stopped the attempt); if PostgreSQL
            // cannot take it, the sweep requeues the job when its lease expires.
            return await SettleAsync(job, events[^1], token => store.RequeueAsync(lease, chargeAttempt: false, events, token)) switch
            {
                Settled.Written => "requeued",
                Settled.Fenced => LeaseLost(job),
                _ => "commit_lost",
            };
        }
        catch (Exception ex)
        {
            var keptBytes = scratchPath is not null && scratch.KeepOnFailure ? ScratchSpace.SizeOf(scratchPath) : 0;
            var result = await FailAttemptAsync(job, stageLabel, ErrorClassifier.Classify(ex), keptBytes, scratchPath, ex);
            finished = result == "failed";
            return result;
        }
        finally
        {
            if (scratchPath is not null && (succeeded || cancelled || !scratch.KeepOnFailure))
            {
                ScratchSpace.Delete(scratchPath);
            }

            if (finished)
            {
                await ClearCheckpointsAsync(lease, checkpoint?.Used == true || lease.Attempt > 1);
            }
        }
    }

    /// <summary>
    /// A finished job's checkpoint goes: its row (only read when this or an earlier attempt may have written one) and its
    /// work folder. A failure here leaves them to the scratch janitor, which removes those of finished jobs.
    /// </summary>
    private async Task ClearCheckpointsAsync(JobLease lease, bool mayHaveRow)
    {
        try
        {
            if (mayHaveRow)
            {
                await checkpoints.ClearFinishedAsync(lease.JobId, CancellationToken.None);
            }

            workFolders.Delete(lease.JobId);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException || DatabaseFailures.IsUnavailable(ex))
        {
            LogCheckpointCleanupFailed(lease.JobId, ex.Message);
        }
    }

    /// <summary>An artifact that already exists and validates finishes the job without running it (seed 6.2).</summary>
    /// <returns>The attempt's outcome when it was skipped, else null (run the stage).</returns>
    private async Task<string?> TrySkipExistingAsync(JobRequested request, ActiveJob job, IStage stage)
    {
        var existing = await artifacts.DescribeAsync(request.OutputKey, job.Stopping);
        if (existing is null)
        {
            return null;
        }

        if (!await IsValidAsync(stage, artifacts.PathOf(request.OutputKey), existing.Size, job.Stopping))
        {
            var aside = await artifacts.QuarantineAsync(request.OutputKey, job.Stopping);
            LogQuarantinedArtifact(request.OutputKey, aside);
            return null;
        }

        var skipped = TimelineEntry.Of(TimelineEventTypes.Skipped,
            ("reason", "artifact_exists"),
            ("artifactKey", existing.Key),
            ("size", existing.Size.ToString(CultureInfo.InvariantCulture)),
            ("sha256", existing.Sha256));
        job.MarkFinishing();
        return await SettleAsync(job, skipped, token => store.SucceedAsync(job.Lease, existing, [skipped], token)) switch
        {
            Settled.Written => "skipped",
            Settled.Fenced => LeaseLost(job),
            _ => "commit_lost",
        };
    }

    /// <summary>Validates the output, checks the lease is still ours, and moves the file into place without replacing anything.</summary>
    private async Task<ArtifactRecord?> CommitAsync(JobRequested request, ActiveJob job, IStage stage, StageOutput output)
    {
        var info = new FileInfo(output.FilePath);
        if (!info.Exists || info.Length == 0)
        {
            throw new JobFailureException(ErrorCodes.ArtifactInvalid, "the stage produced an empty or missing output file");
        }

        await stage.ValidateAsync(output.FilePath, job.Stopping);
        // A cancel (or a lost lease) that came while the stage was finishing keeps the artifact out.
        job.Stopping.ThrowIfCancellationRequested();
        if (!await store.IsLeaseHeldAsync(job.Lease, job.Stopping))
        {
            return null;
        }

        var committed = await artifacts.CommitAsync(output.FilePath, request.OutputKey, job.Stopping);
        if (committed is not null)
        {
            return committed;
        }

        // Another attempt committed first. Its file is whole (commits never expose partial files); record it as ours.
        return await artifacts.DescribeAsync(request.OutputKey, job.Stopping)
               ?? throw new JobFailureException(ErrorCodes.ArtifactInvalid, "the artifact vanished while it was committed");
    }

    private static async Task<bool> IsValidAsync(IStage stage, string path, long size, CancellationToken cancellationToken)
    {
        if (size <= 0)
        {
            return false;
        }

        try
        {
            await stage.ValidateAsync(path, cancellationToken);
            return true;
        }
        catch (JobFailureException)
        {
            return false;
        }
    }

    private async Task<string> FailAttemptAsync(ActiveJob job, string stageLabel, ClassifiedError error, long keptBytes, string? scratchPath, Exception exception)
    {
        var lease = job.Lease;
        metrics.JobFailures.Add(1, new TagList { { "stage", stageLabel }, { "code", error.Code }, { "class", error.IsFatal ? "fatal" : "transient" } });
        if (keptBytes > 0)
        {
            metrics.ScratchBytesKept.Add(keptBytes, new KeyValuePair<string, object?>("stage", stageLabel));
            LogScratchKept(scratchPath!, keptBytes);
        }

        job.MarkFinishing();
        var scratchData = keptBytes > 0 ? keptBytes.ToString(CultureInfo.InvariantCulture) : null;
        Settled written;
        string result;
        var decision = retryOptions.Value.Decide(error.Code, lease.Attempt, lease.ChargedAttempts, lease.MaxAttempts,
            databaseFailure: DatabaseFailures.IsUnavailable(exception));
        if (!error.IsFatal && decision.Retry)
        {
            var delay = decision.Policy.DelayFor(decision.BackoffStep, Random.Shared);
            var notBefore = time.GetUtcNow() + delay;
            var scheduled = TimelineEntry.Of(TimelineEventTypes.RetryScheduled,
                ("code", error.Code),
                ("message", error.Message),
                ("attempt", lease.Attempt.ToString(CultureInfo.InvariantCulture)),
                ("notBefore", notBefore.ToString("O", CultureInfo.InvariantCulture)),
                ("charged", decision.ChargesAttempt ? null : "false"),
                ("scratchBytes", scratchData));
            written = await SettleAsync(job, scheduled,
                token => store.ScheduleRetryAsync(lease, error.Code, error.Message, notBefore, decision.ChargesAttempt, [scheduled], token));
            metrics.RetryAttempts.Add(1, new KeyValuePair<string, object?>("code", error.Code));
            result = "retry_scheduled";
            LogRetry(error.Code, error.Message, delay.TotalSeconds);
        }
        else
        {
            var code = error.IsFatal ? error.Code : ErrorCodes.RetriesExhausted;
            var message = error.IsFatal ? error.Message
                : decision.AttemptsUsed < decision.Limit
                    ? $"{lease.Attempt} attempts in all, the most a job may make for {error.Code}; last error {error.Code}: {error.Message}"
                    : $"{decision.AttemptsUsed} attempts failed, {decision.Limit} allowed; last error {error.Code}: {error.Message}";
            var failed = TimelineEntry.Of(TimelineEventTypes.Failed,
                ("code", code),
                ("message", message),
                ("field", error.Field),
                ("lastCode", error.IsFatal ? null : error.Code),
                ("attempt", lease.Attempt.ToString(CultureInfo.InvariantCulture)),
                ("scratchBytes", scratchData));
            written = await SettleAsync(job, failed, token => store.FailAsync(lease, code, message, [failed], token));
            result = "failed";
            LogFailed(exception, code, message);
        }

        return written switch
        {
            Settled.Written => result,
            Settled.Fenced => LeaseLost(job),
            _ => "commit_lost",
        };
    }

    /// <summary>
    /// Writes the attempt's final transition. A connection lost while writing it (PostgreSQL restarting, the
    /// session terminated, out of connections) does not end the attempt: the write is retried with backoff for up
    /// to <see cref="WorkerOptions.CommitRetryTimeout"/>. Retrying is safe because the write is fenced by the lease
    /// token and status: it lands at most once, and not at all once another attempt or the sweep moved the job.
    /// A retry that finds the row moved checks whether it was this attempt's own earlier write that landed
    /// (<paramref name="last"/> is in the timeline) before calling it a lost lease. Shutdown stops the retrying.
    /// </summary>
    private async Task<Settled> SettleAsync(ActiveJob job, TimelineEntry last, Func<CancellationToken, Task<bool>> write,
        CancellationToken giveUp = default)
    {
        var retryFor = workerOptions.Value.CommitRetryTimeout;
        var started = time.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(200);
        var retried = false;
        while (true)
        {
            try
            {
                var settled = await write(CancellationToken.None) ? Settled.Written
                    : retried && await store.HasWrittenAsync(job.Lease, last, CancellationToken.None) ? Settled.Written
                    : Settled.Fenced;
                if (retried)
                {
                    metrics.CommitRetries.Add(1, new KeyValuePair<string, object?>("outcome", settled == Settled.Written ? "written" : "fenced"));
                    LogCommitSettled(job.Lease.JobId, settled);
                }

                return settled;
            }
            catch (Exception ex) when (DatabaseFailures.IsUnavailable(ex))
            {
                if (time.GetElapsedTime(started) >= retryFor || job.ShutdownAsked || giveUp.IsCancellationRequested)
                {
                    metrics.CommitRetries.Add(1, new KeyValuePair<string, object?>("outcome", "given_up"));
                    LogCommitGivenUp(job.Lease.JobId, job.Lease.Attempt, time.GetElapsedTime(started).TotalSeconds, ex.Message);
                    return Settled.Unwritten;
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

    private enum Settled
    {
        /// <summary>This attempt's transition is committed.</summary>
        Written,
        /// <summary>The fence held: the lease was no longer this attempt's, nothing was written.</summary>
        Fenced,
        /// <summary>PostgreSQL could not be reached in time; the job stays with its lease until the sweep takes it.</summary>
        Unwritten,
    }

    /// <summary>
    /// An attempt stopped for its lease: either another attempt owns the job now (then the fenced write below
    /// changes nothing), or this worker fenced itself because it could not reach PostgreSQL, and the lease may
    /// still be this attempt's once PostgreSQL answers. Then the job goes back at once and uncharged, as on a
    /// shutdown, instead of waiting for the sweep (which would charge the attempt and count a lease expiry).
    /// </summary>
    /// <summary>
    /// An attempt stopped for its lease gives the job back uncharged if the lease is still its own, once PostgreSQL
    /// answers. That write runs on its own and the delivery is acknowledged at once: held while PostgreSQL is away it
    /// would also hold every delivery prefetched behind it (an endpoint stops only once its deliveries are done), and
    /// those would wait minutes instead of going to another worker. If the give-back never lands (the process dies,
    /// the lease was taken over) the job is still <c>processing</c> under a dead lease, and the sweep requeues it.
    /// </summary>
    private string GiveBackAfterLeaseLoss(ActiveJob job)
    {
        var lease = job.Lease;
        job.MarkFinishing();
        TimelineEntry[] events =
        [
            new TimelineEntry(TimelineEventTypes.Aborted, new Dictionary<string, string> { ["reason"] = "self_fenced" }, lease.Attempt),
            new TimelineEntry(TimelineEventTypes.Requeued, new Dictionary<string, string> { ["reason"] = "self_fenced" }, lease.Attempt),
        ];
        _ = Task.Run(async () =>
        {
            // A shutdown does not reach this attempt through its stop reason (the first reason wins): stop retrying then.
            var settled = Settled.Unwritten;
            try
            {
                settled = await SettleAsync(job, events[^1], token => store.RequeueAsync(lease, chargeAttempt: false, events, token), lifetime.ApplicationStopping);
            }
            catch (Exception ex)
            {
                // Anything but a lost connection (SettleAsync retries those): the sweep still requeues the job.
                LogCommitGivenUp(lease.JobId, lease.Attempt, 0, ex.Message);
            }

            if (settled == Settled.Written)
            {
                LogGivenBack(lease.JobId, lease.Attempt);
            }
            else
            {
                LeaseLost(job);
            }
        });
        return "requeued";
    }

    private string LeaseLost(ActiveJob job)
    {
        metrics.LeasesLost.Add(1);
        LogLeaseLost(job.Lease.JobId, job.Lease.Attempt);
        return "lease_lost";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: writing the outcome failed ({Error}); retrying while PostgreSQL is unavailable")]
    private partial void LogCommitRetrying(Guid jobId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: outcome settled after retrying ({Settled})")]
    private partial void LogCommitSettled(Guid jobId, Settled settled);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} attempt {Attempt}: outcome not written after {Seconds:F0}s ({Error}); the recovery sweep requeues the job when its lease expires")]
    private partial void LogCommitGivenUp(Guid jobId, int attempt, double seconds, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} already finished ({Status}): duplicate delivery acknowledged")]
    private partial void LogDuplicate(Guid jobId, string? status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} not acquired ({Kind}, status {Status}): delivery acknowledged")]
    private partial void LogConflict(Guid jobId, AcquireOutcomeKind kind, string? status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} is a suspect (an earlier attempt died with its worker): running it alone here, after waiting {WaitSeconds:F1}s for the other jobs to finish")]
    private partial void LogSuspectAlone(Guid jobId, double waitSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Suspect job {JobId} cannot run alone here now; handed back for the sweep to dispatch again")]
    private partial void LogSuspectDeferred(Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} exists already; this copy of its request holds text the database cannot store and was ignored")]
    private partial void LogRefusedDuplicate(Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cancelled on request: stage stopped, scratch removed")]
    private partial void LogCancelled();

    [LoggerMessage(Level = LogLevel.Information, Message = "Completed: artifact {ArtifactKey} ({Size} bytes)")]
    private partial void LogCompleted(string artifactKey, long size);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Existing artifact {ArtifactKey} failed validation; moved to {Aside} and running the job")]
    private partial void LogQuarantinedArtifact(string artifactKey, string aside);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Transient failure {Code}: {Message}; retrying in {DelaySeconds:F1}s")]
    private partial void LogRetry(string code, string message, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job failed with {Code}: {Message}")]
    private partial void LogFailed(Exception exception, string code, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kept scratch folder {Path} of the failed attempt ({Bytes} bytes)")]
    private partial void LogScratchKept(string path, long bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} attempt {Attempt} stopped by self-fencing but still held its lease: requeued uncharged")]
    private partial void LogGivenBack(Guid jobId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} attempt {Attempt} stopped at a checkpoint for the shutdown: requeued uncharged to resume elsewhere")]
    private partial void LogStoppedAtCheckpoint(Guid jobId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: its checkpoint could not be removed now ({Error}); the scratch janitor removes it later")]
    private partial void LogCheckpointCleanupFailed(Guid jobId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} attempt {Attempt} lost its lease; nothing of it was committed")]
    private partial void LogLeaseLost(Guid jobId, int attempt);
}
