using System.Diagnostics;
using System.Globalization;
using Consumers.Contracts;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Progress;
using Consumers.Runtime.Scratch;
using Consumers.Runtime.Stages;
using Consumers.Runtime.Telemetry;
using Consumers.Runtime.Timeline;
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
    ActiveJobRegistry activeJobs,
    ConsumersMetrics metrics,
    IOptions<WorkerOptions> workerOptions,
    IOptions<LeaseOptions> leaseOptions,
    IOptions<RetryOptions> retryOptions,
    IOptions<ArtifactOptions> artifactOptions,
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

        AcquireOutcome outcome;
        // The lease's clock starts before the acquire is sent: the database stamps it later than this, never earlier.
        var acquireSentAt = time.GetTimestamp();
        using (var acquireSpan = ConsumersActivitySource.Source.StartActivity("job.acquire"))
        {
            acquireSpan?.SetTag("job.id", request.JobId);
            outcome = await store.AcquireAsync(request, settings, cancellationToken);
            acquireSpan?.SetTag("job.acquire.outcome", outcome.Kind.ToString());
        }

        switch (outcome.Kind)
        {
            case AcquireOutcomeKind.AlreadyFinished:
                metrics.DuplicateSkips.Add(1, new KeyValuePair<string, object?>("stage", stageLabel));
                LogDuplicate(request.JobId, outcome.Status);
                return outcome.Kind;
            case AcquireOutcomeKind.HeldElsewhere or AcquireOutcomeKind.NotDue:
                metrics.AcquireConflicts.Add(1, new KeyValuePair<string, object?>("stage", stageLabel));
                LogConflict(request.JobId, outcome.Kind, outcome.Status);
                return outcome.Kind;
        }

        var lease = outcome.Lease!;
        var job = activeJobs.Register(lease, acquireSentAt);
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

    /// <summary>A metric label for a stage name: known stages only, so a bad request cannot mint new series.</summary>
    public string StageLabel(string? stage) => stages.TryGet(stage ?? "", out _) ? stage! : "unknown";

    private async Task<string> RunAttemptAsync(JobRequested request, ActiveJob job, string stageLabel, long started, JobFailureException? requestProblem)
    {
        var lease = job.Lease;
        string? scratchPath = null;
        var succeeded = false;
        var cancelled = false;
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

            if (await TrySkipExistingAsync(request, job, stage))
            {
                succeeded = true;
                return "skipped";
            }

            scratchPath = scratch.Create(lease.JobId, lease.Attempt);
            var throttle = new ProgressThrottle(workerOptions.Value.ProgressMinDelta, workerOptions.Value.ProgressMinInterval, time);
            var reporter = new ProgressReporter(job, store, throttle, logger);
            StageOutput output;
            await using (reporter)
            {
                using var stageSpan = ConsumersActivitySource.Source.StartActivity("job.stage");
                stageSpan?.SetTag("job.stage", stageLabel);
                var context = new StageContext(lease.JobId, lease.Attempt, request, sourcePath, scratchPath, reporter);
                output = await stage.RunAsync(context, job.Stopping);
            }

            using var commitSpan = ConsumersActivitySource.Source.StartActivity("job.commit");
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
            if (!await store.SucceedAsync(lease, committed, events, CancellationToken.None))
            {
                return LeaseLost(job);
            }

            succeeded = true;
            LogCompleted(committed.Key, committed.Size);
            return "succeeded";
        }
        catch (Exception) when (job.Reason == StopReason.LeaseLost)
        {
            return LeaseLost(job);
        }
        catch (Exception) when (job.Reason == StopReason.Cancelled)
        {
            // The stage saw the token (ffmpeg's process tree is killed by then); its scratch goes, whatever the settings.
            cancelled = true;
            job.MarkFinishing();
            if (!await store.CancelRunningAsync(lease, CancellationToken.None))
            {
                return LeaseLost(job);
            }

            metrics.Cancellations.Add(1, new TagList { { "stage", stageLabel }, { "where", "running" } });
            LogCancelled();
            return "cancelled";
        }
        catch (Exception) when (job.Reason == StopReason.Shutdown)
        {
            job.MarkFinishing();
            await store.RequeueAsync(lease, chargeAttempt: false,
            [
                new TimelineEntry(TimelineEventTypes.Aborted, new Dictionary<string, string> { ["reason"] = "shutdown_timeout" }, lease.Attempt),
                new TimelineEntry(TimelineEventTypes.Requeued, new Dictionary<string, string> { ["reason"] = "shutdown" }, lease.Attempt),
            ], CancellationToken.None);
            return "requeued";
        }
        catch (Exception ex)
        {
            var keptBytes = scratchPath is not null && scratch.KeepOnFailure ? ScratchSpace.SizeOf(scratchPath) : 0;
            return await FailAttemptAsync(job, stageLabel, ErrorClassifier.Classify(ex), keptBytes, scratchPath, ex);
        }
        finally
        {
            if (scratchPath is not null && (succeeded || cancelled || !scratch.KeepOnFailure))
            {
                ScratchSpace.Delete(scratchPath);
            }
        }
    }

    /// <summary>An artifact that already exists and validates finishes the job without running it (seed 6.2).</summary>
    private async Task<bool> TrySkipExistingAsync(JobRequested request, ActiveJob job, IStage stage)
    {
        var existing = await artifacts.DescribeAsync(request.OutputKey, job.Stopping);
        if (existing is null)
        {
            return false;
        }

        if (!await IsValidAsync(stage, artifacts.PathOf(request.OutputKey), existing.Size, job.Stopping))
        {
            var aside = await artifacts.QuarantineAsync(request.OutputKey, job.Stopping);
            LogQuarantinedArtifact(request.OutputKey, aside);
            return false;
        }

        var skipped = TimelineEntry.Of(TimelineEventTypes.Skipped,
            ("reason", "artifact_exists"),
            ("artifactKey", existing.Key),
            ("size", existing.Size.ToString(CultureInfo.InvariantCulture)),
            ("sha256", existing.Sha256));
        job.MarkFinishing();
        if (!await store.SucceedAsync(job.Lease, existing, [skipped], CancellationToken.None))
        {
            LeaseLost(job);
        }

        return true;
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
        bool written;
        string result;
        var decision = retryOptions.Value.Decide(error.Code, lease.Attempt, lease.ChargedAttempts, lease.MaxAttempts);
        if (!error.IsFatal && decision.Retry)
        {
            var delay = decision.Policy.DelayFor(decision.BackoffStep, Random.Shared);
            var notBefore = time.GetUtcNow() + delay;
            written = await store.ScheduleRetryAsync(lease, error.Code, error.Message, notBefore, decision.ChargesAttempt,
            [
                TimelineEntry.Of(TimelineEventTypes.RetryScheduled,
                    ("code", error.Code),
                    ("message", error.Message),
                    ("attempt", lease.Attempt.ToString(CultureInfo.InvariantCulture)),
                    ("notBefore", notBefore.ToString("O", CultureInfo.InvariantCulture)),
                    ("charged", decision.ChargesAttempt ? null : "false"),
                    ("scratchBytes", scratchData)),
            ], CancellationToken.None);
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
            written = await store.FailAsync(lease, code, message,
            [
                TimelineEntry.Of(TimelineEventTypes.Failed,
                    ("code", code),
                    ("message", message),
                    ("field", error.Field),
                    ("lastCode", error.IsFatal ? null : error.Code),
                    ("attempt", lease.Attempt.ToString(CultureInfo.InvariantCulture)),
                    ("scratchBytes", scratchData)),
            ], CancellationToken.None);
            result = "failed";
            LogFailed(exception, code, message);
        }

        return written ? result : LeaseLost(job);
    }

    private string LeaseLost(ActiveJob job)
    {
        metrics.LeasesLost.Add(1);
        LogLeaseLost(job.Lease.JobId, job.Lease.Attempt);
        return "lease_lost";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} already finished ({Status}): duplicate delivery acknowledged")]
    private partial void LogDuplicate(Guid jobId, string? status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} not acquired ({Kind}, status {Status}): delivery acknowledged")]
    private partial void LogConflict(Guid jobId, AcquireOutcomeKind kind, string? status);

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} attempt {Attempt} lost its lease; nothing of it was committed")]
    private partial void LogLeaseLost(Guid jobId, int attempt);
}
