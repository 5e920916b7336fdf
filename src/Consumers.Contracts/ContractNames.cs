namespace Consumers.Contracts;

/// <summary>
/// The broker names producers and subscribers meet on. The message types carry their exchange name
/// (<c>[EntityName]</c>), so MassTransit publishes to these without any configuration by the producer.
/// </summary>
public static class ContractNames
{
    /// <summary>Fanout exchange for <see cref="JobRequested"/>; bound to <see cref="JobQueue"/> by the workers.</summary>
    public const string JobRequestedExchange = "consumers.job-requested";

    /// <summary>The queue workers consume requests from (the shared lane). Plain JSON may be sent straight to it.</summary>
    public const string JobQueue = "consumers.jobs";

    /// <summary>Fanout exchange every <see cref="JobTimelineEvent"/> is published to; bind your own queue to it.</summary>
    public const string TimelineExchange = "consumers.timeline";

    /// <summary>
    /// Fanout exchange every <see cref="PipelineTimelineEvent"/> is published to. Apart from <see cref="TimelineExchange"/>
    /// so that a subscriber of job events never receives a message type it does not know.
    /// </summary>
    public const string PipelineTimelineExchange = "consumers.pipeline-timeline";

    /// <summary>Fanout exchange for <see cref="CancelJob"/>; bound to <see cref="CancelJobQueue"/> by the workers.</summary>
    public const string CancelJobExchange = "consumers.cancel-job";

    /// <summary>The queue workers take <see cref="CancelJob"/> from. Plain JSON may be sent straight to it.</summary>
    public const string CancelJobQueue = "consumers.control.cancel-job";

    /// <summary>Fanout exchange for <see cref="PipelineRequested"/>; bound to <see cref="PipelineQueue"/> by the workers.</summary>
    public const string PipelineRequestedExchange = "consumers.pipeline-requested";

    /// <summary>The queue workers take <see cref="PipelineRequested"/> from. Plain JSON may be sent straight to it.</summary>
    public const string PipelineQueue = "consumers.pipelines";
}
