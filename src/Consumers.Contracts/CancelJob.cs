using MassTransit;

namespace Consumers.Contracts;

/// <summary>
/// Asks the runtime to cancel a job. <c>bus.Publish</c> sends it to the <c>consumers.cancel-job</c> exchange, which
/// the workers bind to the <c>consumers.control.cancel-job</c> queue; plain JSON bodies with these property names
/// are accepted there too. A queued job is cancelled at once, a running one is stopped by the worker holding it;
/// a finished job is left as it is. Sending it twice is harmless.
/// </summary>
[EntityName(ContractNames.CancelJobExchange)]
public sealed record CancelJob
{
    /// <summary>Version of this contract's shape.</summary>
    public int SchemaVersion { get; init; } = 1;

    /// <summary>The job to cancel.</summary>
    public Guid JobId { get; init; }

    /// <summary>Why; recorded in the job's <c>cancelled</c> event.</summary>
    public string? Reason { get; init; }

    /// <summary>Who asked (a user or a service name); recorded in the job's <c>cancelled</c> event as <c>by</c>.</summary>
    public string? RequestedBy { get; init; }
}
