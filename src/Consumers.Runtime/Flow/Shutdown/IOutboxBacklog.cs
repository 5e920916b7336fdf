namespace Consumers.Runtime.Flow.Shutdown;

/// <summary>What the shutdown drain asks of the outbox: whether everything written has been published.</summary>
internal interface IOutboxBacklog
{
    Task<bool> IsEmptyAsync(CancellationToken cancellationToken);
}
