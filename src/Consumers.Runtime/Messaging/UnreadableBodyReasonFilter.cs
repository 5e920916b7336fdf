using Consumers.Contracts;
using MassTransit;

namespace Consumers.Runtime.Messaging;

/// <summary>
/// On the way to the error queue: a body that is JSON but not an object (<c>null</c>, an array, a number) gets a
/// fault message a person can act on; MassTransit's reader fails on some of those with a message about its own state.
/// </summary>
internal sealed class UnreadableBodyReasonFilter : IFilter<ExceptionReceiveContext>
{
    public Task Send(ExceptionReceiveContext context, IPipe<ExceptionReceiveContext> next)
    {
        if (NotAnObject(context.Body.GetBytes()) is { } kind)
        {
            context.ExceptionHeaders.Set(MessageHeaders.FaultMessage,
                $"{ErrorCodes.InvalidRequest}: the body is {kind}, not a JSON object with a jobId; the message cannot be tied to a job");
        }

        return next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("unreadableBodyReason");

    private static string? NotAnObject(byte[] body)
    {
        var first = Array.FindIndex(body, b => b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'));
        return first < 0 ? "empty"
            : body[first] switch
            {
                (byte)'{' => null,
                (byte)'n' => "null",
                (byte)'[' => "an array",
                (byte)'"' => "a string",
                (byte)'t' or (byte)'f' => "a boolean",
                _ => null,
            };
    }
}
