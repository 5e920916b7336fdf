using System.Diagnostics;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Telemetry;

namespace Consumers.Runtime.Control;

/// <summary>
/// The one way in for a cancel, from the CLI or a <c>CancelJob</c> message: the state change is JobStore's
/// (<see cref="JobStore.RequestCancelAsync"/>), the audit row and the metric are added here. An id that names no job
/// is not recorded here: every caller hands it on to the pipeline cancel, which records what it found under the id.
/// </summary>
public sealed class JobCancellation(JobStore store, OperatorAudit audit, ConsumersMetrics metrics)
{
    /// <summary>Cancels <paramref name="jobId"/> on behalf of <paramref name="by"/>.</summary>
    public async Task<CancelOutcome> CancelAsync(Guid jobId, string? reason, string by, CancellationToken cancellationToken)
    {
        var outcome = await store.RequestCancelAsync(jobId, reason, by, cancellationToken);
        if (outcome.Kind == CancelOutcomeKind.Cancelled)
        {
            // A running job is counted by the worker that stops it (where = running).
            metrics.Cancellations.Add(1, new TagList { { "stage", outcome.Stage }, { "where", outcome.Where ?? "queued" } });
        }

        if (outcome.Kind != CancelOutcomeKind.Missing)
        {
            await audit.RecordAsync("cancel", jobId.ToString(), by, reason, OutcomeName(outcome.Kind), cancellationToken);
        }

        return outcome;
    }

    private static string OutcomeName(CancelOutcomeKind kind) => kind switch
    {
        CancelOutcomeKind.Cancelled => "cancelled",
        CancelOutcomeKind.Requested => "requested",
        CancelOutcomeKind.AlreadyRequested => "already_requested",
        _ => "already_finished",
    };
}
