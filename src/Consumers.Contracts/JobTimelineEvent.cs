using MassTransit;

namespace Consumers.Contracts;

/// <summary>
/// One entry of a job's timeline, published (through the transactional outbox) after the state change it
/// describes has committed. <see cref="Sequence"/> starts at 1 and has no gaps per job; subscribers can
/// order and deduplicate on (<see cref="JobId"/>, <see cref="Sequence"/>).
/// </summary>
[EntityName(ContractNames.TimelineExchange)]
public sealed record JobTimelineEvent
{
    public int SchemaVersion { get; init; } = 1;

    public Guid JobId { get; init; }

    public long Sequence { get; init; }

    /// <summary>One of <see cref="TimelineEventTypes"/>.</summary>
    public string Type { get; init; } = "";

    /// <summary>The attempt the event belongs to (0 before the first attempt started).</summary>
    public int Attempt { get; init; }

    public string Stage { get; init; } = "";

    public DateTimeOffset OccurredAt { get; init; }

    /// <summary>Type-specific details (code, message, percent, artifact key, ...), all as strings.</summary>
    public IReadOnlyDictionary<string, string> Data { get; init; } = new Dictionary<string, string>();
}
