using Consumers.Contracts;
using Consumers.Runtime.Flow;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Messaging;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Control;

/// <summary>
/// Releases a parked delivery of a resumed stage: sends it back to the stage's lane with its message id. The lane
/// parks it again if the stage was paused once more meanwhile; a duplicate from a crash in between is skipped on acquire.
/// </summary>
public sealed class ParkedJobConsumer(JobLanes lanes, IOptions<RabbitMqOptions> rabbitOptions) : IConsumer<JobRequested>
{
    public Task Consume(ConsumeContext<JobRequested> context) =>
        context.SendToJobQueueAsync(rabbitOptions.Value, lanes.For(context.Message.Stage).Queue, context.Message, typeof(JobRequested),
            context.MessageId, context.CancellationToken);
}
