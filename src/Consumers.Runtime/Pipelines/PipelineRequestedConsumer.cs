using Consumers.Contracts;
using MassTransit;

namespace Consumers.Runtime.Pipelines;

/// <summary>
/// Takes <see cref="PipelineRequested"/> from <c>consumers.pipelines</c>. Registering a pipeline is one short
/// transaction; the steps then run as ordinary jobs on the job queues. A body with no usable pipeline id cannot be
/// recorded anywhere and goes to the error queue.
/// </summary>
public sealed class PipelineRequestedConsumer(PipelineSubmission submission) : IConsumer<PipelineRequested>
{
    public async Task Consume(ConsumeContext<PipelineRequested> context)
    {
        if (context.Message.PipelineId == Guid.Empty)
        {
            throw new InvalidOperationException($"{ErrorCodes.InvalidRequest}: pipelineId is missing or empty; the message cannot be tied to a pipeline");
        }

        await submission.SubmitAsync(context.Message, context.CancellationToken);
    }
}
