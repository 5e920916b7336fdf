using Consumers.Contracts;
using Consumers.Runtime.Jobs;
using MassTransit;

namespace Consumers.Runtime.Messaging;

/// <summary>
/// Holds the delivery for the whole attempt and returns (acknowledges) once the outcome is committed, so a
/// worker that dies mid-job leaves the message to be delivered again.
/// </summary>
public sealed class JobRequestedConsumer(JobRunner runner) : IConsumer<JobRequested>
{
    public async Task Consume(ConsumeContext<JobRequested> context)
    {
        var request = context.Message;
        if (request.JobId == Guid.Empty)
        {
            throw new InvalidJobMessageException($"{ErrorCodes.InvalidRequest}: jobId is missing or empty, so the message cannot be tied to a job");
        }

        await runner.RunAsync(request, context.CancellationToken);
    }
}
