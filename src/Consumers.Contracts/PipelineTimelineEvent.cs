using MassTransit;

namespace Consumers.Contracts;

/// <summary>
/// One entry of a pipeline's timeline, published (through the transactional outbox) to <c>consumers.pipeline-timeline</c>
/// (the steps' own <see cref="JobTimelineEvent"/>s go to <c>consumers.timeline</c>), after the change it describes has committed.
/// <see cref="Sequence"/> starts at 1 and has no gaps per pipeline.
/// </summary>
[EntityName(ContractNames.PipelineTimelineExchange)]
public sealed record PipelineTimelineEvent
{
    public int SchemaVersion { get; init; } = 1;

    public Guid PipelineId { get; init; }

    public long Sequence { get; init; }

    /// <summary>One of <see cref="PipelineEventTypes"/>.</summary>
    public string Type { get; init; } = "";

    /// <summary>The step a <c>step_*</c> event is about (null for <c>pipeline_*</c> events).</summary>
    public string? Step { get; init; }

    /// <summary>The job that runs <see cref="Step"/>, once it was dispatched.</summary>
    public Guid? JobId { get; init; }

    public DateTimeOffset OccurredAt { get; init; }

    /// <summary>Type-specific details (stage, code, reason, clip duration, ...), all as strings.</summary>
    public IReadOnlyDictionary<string, string> Data { get; init; } = new Dictionary<string, string>();

    /// <summary>On <c>pipeline_completed</c>: every step's artifact.</summary>
    public IReadOnlyList<PipelineArtifact>? Artifacts { get; init; }
}

/// <summary>An artifact a pipeline made: the step, its key, size and SHA-256.</summary>
public sealed record PipelineArtifact(string Step, string Key, long Size, string Sha256);
