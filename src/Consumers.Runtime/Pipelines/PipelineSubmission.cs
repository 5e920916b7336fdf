using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Stages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Pipelines;

/// <summary>How a submitted pipeline was taken: started, already known (nothing changed), or refused as invalid.</summary>
public enum PipelineSubmitResult { Started, Duplicate, Rejected }

/// <summary>
/// The one way in for a pipeline, from <c>consumers submit --pipeline</c> or a <see cref="PipelineRequested"/> message:
/// validated first (<see cref="PipelineValidator"/>), then registered with its first steps dispatched, or recorded as
/// failed with <c>INVALID_REQUEST</c> naming the step and field. Nothing of an invalid pipeline runs.
/// </summary>
public sealed partial class PipelineSubmission(PipelineStore store, StageRegistry stages, IOptions<WorkerOptions> workerOptions, ILogger<PipelineSubmission> logger)
{
    public async Task<(PipelineSubmitResult Result, string? Problem)> SubmitAsync(PipelineRequested request, CancellationToken cancellationToken)
    {
        // A body with a field of the wrong JSON type was read only as far as its id: refused naming that field.
        if (PipelineRequestedJsonConverter.ProblemOf(request) is { } malformed && request.PipelineId != Guid.Empty)
        {
            return await RejectAsync(request, malformed, cancellationToken);
        }

        IReadOnlyList<PlannedStep> steps;
        try
        {
            steps = PipelineValidator.Plan(request, stages, workerOptions.Value.DefaultMaxAttempts);
        }
        catch (JobFailureException ex) when (request.PipelineId != Guid.Empty)
        {
            return await RejectAsync(request, ex, cancellationToken);
        }

        var started = await store.SubmitAsync(request, steps, cancellationToken);
        if (started)
        {
            LogStarted(request.PipelineId, steps.Count);
        }

        return (started ? PipelineSubmitResult.Started : PipelineSubmitResult.Duplicate, null);
    }

    private async Task<(PipelineSubmitResult Result, string? Problem)> RejectAsync(PipelineRequested request, JobFailureException problem, CancellationToken cancellationToken)
    {
        var created = await store.RejectAsync(request, problem.Code, problem.Message, problem.Field, cancellationToken);
        LogRejected(request.PipelineId, problem.Message);
        return (created ? PipelineSubmitResult.Rejected : PipelineSubmitResult.Duplicate, problem.Message);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Pipeline {PipelineId} started with {Steps} steps")]
    private partial void LogStarted(Guid pipelineId, int steps);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pipeline {PipelineId} refused: {Problem}")]
    private partial void LogRejected(Guid pipelineId, string problem);
}
