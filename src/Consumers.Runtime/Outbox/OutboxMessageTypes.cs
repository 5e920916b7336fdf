using Consumers.Contracts;

namespace Consumers.Runtime.Outbox;

/// <summary>The contracts an outbox row may carry, by the name stored in <c>message_type</c>.</summary>
public static class OutboxMessageTypes
{
    private static readonly Dictionary<string, Type> Types = new(StringComparer.Ordinal)
    {
        [nameof(JobTimelineEvent)] = typeof(JobTimelineEvent),
        [nameof(JobRequested)] = typeof(JobRequested),
        [nameof(PipelineTimelineEvent)] = typeof(PipelineTimelineEvent),
    };

    public static bool TryResolve(string name, out Type type) => Types.TryGetValue(name, out type!);
}
