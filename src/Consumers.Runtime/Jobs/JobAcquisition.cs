using System.Diagnostics;
using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Flow;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Stages;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// Everything before an attempt runs: the acquire with this worker's lease settings, the solo gate a suspect takes
/// first, the refusal of a request the database cannot store, and the counting of deliveries that won nothing.
/// </summary>
public sealed partial class JobAcquisition(
    JobStore store,
    StageRegistry stages,
    JobLanes lanes,
    JobIntake intake,
    ConsumersMetrics metrics,
    IOptions<WorkerOptions> workerOptions,
    IOptions<LeaseOptions> leaseOptions,
    TimeProvider time,
    ILogger<JobAcquisition> logger)
{
    /// <summary>A metric label for a stage name: known stages only, so a bad request cannot mint new series.</summary>
    public string StageLabel(string? stage) => stages.TryGet(stage ?? "", out _) ? stage! : "unknown";

    /// <summary>This worker's lease settings for <paramref name="request"/>.</summary>
    public AcquireSettings SettingsFor(JobRequested request, string stageLabel)
    {
        var leases = leaseOptions.Value;
        var clip = request.ClipDurationSeconds is { } d && double.IsFinite(d) ? d : (double?)null;
        return new AcquireSettings(
            workerOptions.Value.WorkerId,
            (int)Math.Ceiling(leases.LeaseTimeoutFor(stageLabel).TotalSeconds),
            leases.DeadlineFor(clip).TotalSeconds,
            workerOptions.Value.DefaultMaxAttempts);
    }

    public async Task<Acquired> AcquireAsync(JobRequested request, AcquireSettings settings, CancellationToken cancellationToken)
    {
        using var acquireSpan = ConsumersActivitySource.Source.StartActivity("job.acquire").TagDelivery("acquire");
        acquireSpan?.SetTag("job.id", request.JobId);
        // The lease's clock starts before the acquire is sent: the database stamps it later than this, never earlier.
        var sentAt = time.GetTimestamp();
        var outcome = await store.AcquireAsync(request, settings, cancellationToken);
        acquireSpan?.SetTag("job.acquire.outcome", outcome.Kind.ToString());
        return new Acquired(outcome, sentAt);
    }

    /// <summary>Counts and logs a delivery that won no lease (a duplicate, or a job someone else holds or that is not due).</summary>
    public void CountNotAcquired(JobRequested request, AcquireOutcome outcome, string stageLabel)
    {
        if (outcome.Kind == AcquireOutcomeKind.AlreadyFinished)
        {
            metrics.DuplicateSkips.Add(1, new KeyValuePair<string, object?>("stage", stageLabel));
            LogDuplicate(request.JobId, outcome.Status);
            return;
        }

        metrics.AcquireConflicts.Add(1, new KeyValuePair<string, object?>("stage", stageLabel));
        LogConflict(request.JobId, outcome.Kind, outcome.Status);
    }

    /// <summary>
    /// A suspect (an earlier attempt died with its worker) runs alone: it takes the worker's solo gate and waits, before
    /// it takes the lease, for the other running jobs to finish. When another suspect holds the gate or the intake
    /// closes first, the job is handed back to the sweep instead; false then. True: release with <see cref="ReleaseSoloGate"/>.
    /// </summary>
    public async Task<bool> TakeSoloGateAsync(Guid jobId, string stageLabel, CancellationToken cancellationToken)
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

    public void ReleaseSoloGate() => lanes.Solo.Release();

    /// <summary>
    /// A request with text the database cannot store never reaches the acquire: its row is written already failed
    /// (<c>INVALID_REQUEST</c> naming the field) from a copy with that text replaced.
    /// </summary>
    public async Task<AcquireOutcomeKind> RefuseAsync(JobRequested request, JobFailureException problem, string stageLabel, CancellationToken cancellationToken)
    {
        var sanitized = request with
        {
            Stage = StorableText.Sanitize(request.Stage ?? ""),
            Source = StorableText.Sanitize(request.Source ?? ""),
            OutputKey = StorableText.Sanitize(request.OutputKey ?? ""),
            Parameters = request.Parameters?.ToDictionary(p => StorableText.Sanitize(p.Key), p => StorableText.Sanitize(p.Value ?? ""), StringComparer.Ordinal),
        };
        var maxAttempts = request.MaxAttempts is >= 1 and <= JobRequestLimits.MaxAttempts ? request.MaxAttempts.Value : workerOptions.Value.DefaultMaxAttempts;
        if (!await store.RejectAsync(sanitized, maxAttempts, problem.Code, problem.Message, problem.Field!, cancellationToken))
        {
            LogRefusedDuplicate(request.JobId);
            return AcquireOutcomeKind.AlreadyFinished;
        }

        metrics.JobFailures.Add(1, new TagList { { "stage", stageLabel }, { "code", problem.Code }, { "class", "fatal" } });
        LogRefused(problem, problem.Code, problem.Message);
        return AcquireOutcomeKind.Refused;
    }

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

    [LoggerMessage(Level = LogLevel.Error, Message = "Job failed with {Code}: {Message}")]
    private partial void LogRefused(Exception exception, string code, string message);
}

/// <summary>An acquire's outcome and the moment it was sent, from which a lease it took is counted.</summary>
public readonly record struct Acquired(AcquireOutcome Outcome, long SentAt);
