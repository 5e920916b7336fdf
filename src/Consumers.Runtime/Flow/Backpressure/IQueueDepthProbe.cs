namespace Consumers.Runtime.Flow.Backpressure;

/// <summary>How deep the watched queues are; the broker side (RabbitMQ's management API) lives with the messaging code.</summary>
internal interface IQueueDepthProbe
{
    /// <summary>The most messages any of <paramref name="queues"/> holds; null when none could be read (no signal, never a pause).</summary>
    Task<long?> DeepestAsync(IReadOnlyList<string> queues, CancellationToken cancellationToken);
}
