namespace Consumers.Runtime.Stages;

/// <summary>The stages this worker can run, by name.</summary>
public sealed class StageRegistry
{
    private readonly Dictionary<string, IStage> stages;

    public StageRegistry(IEnumerable<IStage> stages)
    {
        this.stages = stages.ToDictionary(s => s.Name, StringComparer.Ordinal);
    }

    public IReadOnlyCollection<string> Names => stages.Keys;

    public bool TryGet(string name, out IStage stage) => stages.TryGetValue(name, out stage!);
}
