using Consumers.Contracts;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace Consumers.Runtime.Control;

/// <summary>
/// Carries out a <see cref="CancelJob"/> message: the same request as <c>consumers cancel</c>, by the sender it names.
/// Like the CLI and the admin API, an id that is no job but a pipeline cancels the pipeline as a whole (through
/// <see cref="ICancelOtherwise"/>, which the pipelines register).
/// </summary>
public sealed partial class CancelJobConsumer(JobCancellation cancellation, IEnumerable<ICancelOtherwise> others, ILogger<CancelJobConsumer> logger)
    : IConsumer<CancelJob>
{
    /// <summary>Who a message that names no sender is recorded as.</summary>
    public const string AnonymousSender = "message";

    public async Task Consume(ConsumeContext<CancelJob> context)
    {
        var message = context.Message;
        if (message.JobId == Guid.Empty)
        {
            // Nothing to act on, and redelivering it would not help: drop it with a log line.
            LogNoJob(context.MessageId);
            return;
        }

        var by = string.IsNullOrWhiteSpace(message.RequestedBy) ? AnonymousSender : message.RequestedBy;
        var outcome = await cancellation.CancelAsync(message.JobId, message.Reason, by, context.CancellationToken);
        if (outcome.Kind != Jobs.CancelOutcomeKind.Missing)
        {
            LogCancel(message.JobId, by, outcome.Kind, outcome.Status);
            return;
        }

        foreach (var other in others)
        {
            if (await other.CancelAsync(message.JobId, message.Reason, by, context.CancellationToken) is { } otherOutcome)
            {
                LogOtherCancel(message.JobId, by, otherOutcome);
                return;
            }
        }

        LogCancel(message.JobId, by, outcome.Kind, outcome.Status);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "CancelJob {MessageId} names no job id; ignored")]
    private partial void LogNoJob(Guid? messageId);

    [LoggerMessage(Level = LogLevel.Information, Message = "CancelJob for {JobId} by {By}: {Outcome} (status {Status})")]
    private partial void LogCancel(Guid jobId, string by, Jobs.CancelOutcomeKind outcome, string? status);

    [LoggerMessage(Level = LogLevel.Information, Message = "CancelJob for {Id} (no such job) by {By}: {Outcome}")]
    private partial void LogOtherCancel(Guid id, string by, string outcome);
}
