using Consumers.Runtime.Control;

namespace Consumers.Runtime.Pipelines;

/// <summary>How a pipeline cancel went: no such pipeline, already finished, or asked (its steps end as they are reached).</summary>
public enum PipelineCancelResult { Missing, Finished, Requested }

/// <summary>
/// Cancels a pipeline as a whole: its waiting steps are cancelled at once, and each dispatched step's job through the
/// control plane's job cancel (<see cref="JobCancellation"/>: a queued one at once, a running one within 2 s). When the
/// last step ends the pipeline ends <c>cancelled</c>. A step whose artifact was already committed still succeeds.
/// </summary>
public sealed class PipelineCancellation(PipelineStore store, JobCancellation jobs) : ICancelOtherwise
{
    public async Task<PipelineCancelResult> CancelAsync(Guid pipelineId, string? reason, string by, CancellationToken cancellationToken)
    {
        var state = await store.RequestCancelAsync(pipelineId, reason, by, cancellationToken);
        if (state is not { } found)
        {
            return PipelineCancelResult.Missing;
        }

        if (found.Status != "running")
        {
            return PipelineCancelResult.Finished;
        }

        // Waiting steps first, so nothing new is dispatched while the running ones are stopped.
        await store.AdvanceAsync(pipelineId, cancellationToken);
        foreach (var job in found.Jobs)
        {
            await jobs.CancelAsync(job, reason ?? "pipeline cancelled", by, cancellationToken);
        }

        // Jobs cancelled while queued end at once; record them now (running ones advance the pipeline when they stop).
        await store.AdvanceAsync(pipelineId, cancellationToken);
        return PipelineCancelResult.Requested;
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
