using System.Diagnostics;
using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Logging;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// Runs one delivered request from acquire to outcome: the acquire (<see cref="JobAcquisition"/>; a suspect first
/// waits to run alone), then the attempt (<see cref="AttemptRunner"/>) while the job is registered as active, counted
/// and timed. Every outcome is one committed state change with its timeline events; an attempt that lost its lease
/// writes nothing.
/// </summary>
public sealed class JobRunner(
    JobAcquisition acquisition,
    BoundedAcquire bounded,
    AttemptRunner attempts,
    ActiveJobRegistry activeJobs,
    ConsumersMetrics metrics,
    TimeProvider time,
    ILogger<JobRunner> logger)
{
    /// <summary>
    /// Handles one delivery; returns once the outcome is committed (or known to be someone else's). A
    /// <paramref name="requestProblem"/> (a body that did not fit the contract) fails the acquired job at once with it.
    /// An acquire that PostgreSQL does not answer in time throws <see cref="AcquireTimedOutException"/> (no attempt started).
    /// </summary>
    public async Task<AcquireOutcomeKind> RunAsync(JobRequested request, CancellationToken cancellationToken, JobFailureException? requestProblem = null)
    {
        var stageLabel = StageLabel(request.Stage);
        if (JobRequestValidator.FindUnstorable(request) is { } unstorable)
        {
            return await acquisition.RefuseAsync(request, unstorable, stageLabel, cancellationToken);
        }

        var settings = acquisition.SettingsFor(request, stageLabel);
        var acquired = await bounded.AcquireAsync(request, settings, stageLabel, cancellationToken);
        if (acquired.Outcome.Kind != AcquireOutcomeKind.Suspect)
        {
            return await RunAcquiredAsync(request, acquired, stageLabel, requestProblem);
        }

        // Its earlier attempt died with its worker: take the lease only once nothing else runs here.
        if (!await acquisition.TakeSoloGateAsync(request.JobId, stageLabel, cancellationToken))
        {
            return AcquireOutcomeKind.Deferred;
        }

        try
        {
            acquired = await bounded.AcquireAsync(request, settings with { RunsAlone = true }, stageLabel, cancellationToken);
            return await RunAcquiredAsync(request, acquired, stageLabel, requestProblem);
        }
        finally
        {
            acquisition.ReleaseSoloGate();
        }
    }

    /// <summary>A metric label for a stage name: known stages only, so a bad request cannot mint new series.</summary>
    public string StageLabel(string? stage) => acquisition.StageLabel(stage);

    private async Task<AcquireOutcomeKind> RunAcquiredAsync(JobRequested request, Acquired acquired, string stageLabel, JobFailureException? requestProblem)
    {
        var outcome = acquired.Outcome;
        if (outcome.Kind != AcquireOutcomeKind.Acquired)
        {
            acquisition.CountNotAcquired(request, outcome, stageLabel);
            return outcome.Kind;
        }

        var lease = outcome.Lease!;
        var job = activeJobs.Register(lease, acquired.SentAt);
        metrics.JobStarted(stageLabel);
        var started = time.GetTimestamp();
        using var scope = logger.BeginScope("job {JobId} attempt {Attempt}", lease.JobId, lease.Attempt);
        AttemptOutcome? result = null;
        try
        {
            result = await attempts.RunAsync(request, job, stageLabel, started, requestProblem);
        }
        finally
        {
            activeJobs.Unregister(job);
            metrics.JobEnded(stageLabel);
            var tags = new TagList { { "stage", stageLabel }, { "outcome", result?.Label() ?? "unknown" } };
            metrics.JobOutcomes.Add(1, tags);
            metrics.JobDuration.Record(time.GetElapsedTime(started).TotalSeconds, tags);
        }

        return outcome.Kind;
    }
}
