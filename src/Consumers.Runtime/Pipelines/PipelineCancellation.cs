using Consumers.Runtime.Control;

namespace Consumers.Runtime.Pipelines;

/// <summary>How a pipeline cancel went: no such pipeline, already finished, or asked (its steps end as they are reached).</summary>
public enum PipelineCancelResult { Missing, Finished, Requested }

/// <summary>
/// Cancels a pipeline as a whole: its waiting steps are cancelled at once, and each dispatched step's job through the
/// control plane's job cancel (<see cref="JobCancellation"/>: a queued one at once, a running one within 2 s). When the
/// last step ends the pipeline ends <c>cancelled</c>. A step whose artifact was already committed still succeeds.
/// </summary>
/// <remarks>
/// The operator audit gets one <c>cancel</c> row for the pipeline (outcome <c>pipeline_requested</c>,
/// <c>pipeline_already_finished</c>, or <c>missing</c> when the id names neither a job nor a pipeline), and one per step
/// job it cancels, as any job cancel does.
/// </remarks>
public sealed class PipelineCancellation(PipelineStore store, JobCancellation jobs, OperatorAudit audit) : ICancelOtherwise
{
    public async Task<PipelineCancelResult> CancelAsync(Guid pipelineId, string? reason, string by, CancellationToken cancellationToken)
    {
        var state = await store.RequestCancelAsync(pipelineId, reason, by, cancellationToken);
        var result = state switch
        {
            null => PipelineCancelResult.Missing,
            { Status: not "running" } => PipelineCancelResult.Finished,
            _ => PipelineCancelResult.Requested,
        };
        if (state is { Status: "running" } found)
        {
            // Waiting steps first, so nothing new is dispatched while the running ones are stopped.
            await store.AdvanceAsync(pipelineId, cancellationToken);
            foreach (var job in found.Jobs)
            {
                await jobs.CancelAsync(job, reason ?? "pipeline cancelled", by, cancellationToken);
            }

            // Jobs cancelled while queued end at once; record them now (running ones advance the pipeline when they stop).
            await store.AdvanceAsync(pipelineId, cancellationToken);
        }

        // Last, as for a job: a failed audit write must not keep the steps from being stopped.
        await audit.RecordAsync("cancel", pipelineId.ToString(), by, reason, result switch
        {
            PipelineCancelResult.Missing => "missing",
            PipelineCancelResult.Finished => "pipeline_already_finished",
            _ => "pipeline_requested",
        }, cancellationToken);
        return result;
    }

    /// <summary>A <c>CancelJob</c> whose id is a pipeline's: the pipeline is cancelled as a whole, as the CLI and the admin API do.</summary>
    async Task<string?> ICancelOtherwise.CancelAsync(Guid id, string? reason, string by, CancellationToken cancellationToken) =>
        await CancelAsync(id, reason, by, cancellationToken) switch
        {
            PipelineCancelResult.Missing => null,
            PipelineCancelResult.Finished => "pipeline already finished",
            _ => "pipeline cancel requested",
        };
}
