using MassTransit;

namespace Consumers.Runtime.Messaging;

/// <summary>The one way the runtime sends a request to a job or lane queue: the relay's dispatch and a lane forward.</summary>
public static class JobQueueSendExtensions
{
    /// <summary>
    /// Sends <paramref name="message"/> to <paramref name="queue"/> at <see cref="RabbitMqOptions.SendAddress"/>
    /// with <paramref name="messageId"/> and, for a <see cref="Contracts.JobRequested"/>, its priority; mandatory: if no queue is bound to its exchange (quorum mode before the
    /// first worker, a deleted queue) the broker returns it and the send fails, instead of confirming a dropped message.
    /// </summary>
    public static async Task SendToJobQueueAsync(this ISendEndpointProvider provider, RabbitMqOptions rabbit, string queue,
        object message, Type messageType, Guid? messageId, CancellationToken cancellationToken)
    {
        var endpoint = await provider.GetSendEndpoint(rabbit.SendAddress(queue));
        await endpoint.Send(message, messageType, context =>
        {
            context.MessageId = messageId;
            // Every path that sends a job (relay, sweep and requeue through the outbox, lane forward, parking) carries its priority.
            if (message is Contracts.JobRequested request)
            {
                context.TrySetPriority((byte)Math.Clamp(request.Priority, Contracts.JobPriority.Lowest, Contracts.JobPriority.Highest));
            }

            if (context.TryGetPayload<RabbitMqSendContext>(out var rabbitContext))
            {
                rabbitContext.Mandatory = true;
            }
        }, cancellationToken);
    }
}
