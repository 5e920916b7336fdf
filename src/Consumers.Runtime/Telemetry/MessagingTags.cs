using System.Diagnostics;
using System.Reflection;

namespace Consumers.Runtime.Telemetry;

/// <summary>
/// OpenTelemetry messaging semantic-convention attributes on the runtime's own spans, so a tracing backend groups
/// them with the broker's spans: the system, the queue or exchange, what the span does with the message, its id.
/// </summary>
internal static class MessagingTags
{
    public const string System = "messaging.system";
    public const string DestinationName = "messaging.destination.name";
    public const string OperationType = "messaging.operation.type";
    public const string OperationName = "messaging.operation.name";
    public const string MessageId = "messaging.message.id";

    public const string RabbitMq = "rabbitmq";

    /// <summary>Operation types of the conventions that the runtime's spans use.</summary>
    public const string Process = "process";
    public const string Send = "send";

    /// <summary>
    /// Marks <paramref name="span"/> as part of processing the delivery being consumed. The queue and message id come
    /// from MassTransit's consume span above it (the runtime's spans run inside it), when tracing records that span.
    /// </summary>
    public static Activity? TagDelivery(this Activity? span, string operation)
    {
        if (span is null)
        {
            return null;
        }

        span.SetTag(System, RabbitMq);
        span.SetTag(OperationType, Process);
        span.SetTag(OperationName, operation);
        for (var parent = span.Parent; parent is not null; parent = parent.Parent)
        {
            if (parent.Kind == ActivityKind.Consumer && parent.GetTagItem(DestinationName) is { } queue)
            {
                span.SetTag(DestinationName, queue);
                if (parent.GetTagItem(MessageId) is { } id)
                {
                    span.SetTag(MessageId, id);
                }

                break;
            }
        }

        return span;
    }

    /// <summary>
    /// A publish of the runtime's own (the outbox relay): to <paramref name="queue"/> when it sends to one, else to the
    /// exchange the contract names (<c>[EntityName]</c>).
    /// </summary>
    public static Activity? TagPublish(this Activity? span, Type messageType, string? queue, Guid messageId)
    {
        if (span is null)
        {
            return null;
        }

        span.SetTag(System, RabbitMq);
        span.SetTag(OperationType, Send);
        span.SetTag(OperationName, "publish");
        span.SetTag(DestinationName, queue ?? messageType.GetCustomAttribute<MassTransit.EntityNameAttribute>()?.EntityName ?? messageType.Name);
        span.SetTag(MessageId, messageId.ToString());
        return span;
    }

    /// <summary>Marks a span as failed with the job's error code (OpenTelemetry's <c>error.type</c>).</summary>
    public static void Fail(this Activity? span, string code, string message)
    {
        span?.SetStatus(ActivityStatusCode.Error, code + ": " + message);
        span?.SetTag("error.type", code);
    }
}
