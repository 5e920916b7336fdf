using System.Collections.Frozen;

namespace Consumers.Runtime.Control;

/// <summary>
/// This worker's copy of the paused stages, kept fresh by <see cref="ControlPoller"/> (a read every second, twice a
/// second while jobs run). Until the first read succeeds nothing counts as paused; a worker that cannot read the table
/// keeps the last set it knew.
/// </summary>
public sealed class StagePauses
{
    private volatile FrozenSet<string> paused = FrozenSet<string>.Empty;

    /// <summary>Raised after the set changed, with the new set.</summary>
    public event Action<IReadOnlySet<string>>? Changed;

    public IReadOnlySet<string> Paused => paused;

    public bool IsPaused(string? stage) => stage is not null && paused.Contains(stage);

    public void Apply(IEnumerable<string> stages)
    {
        var next = stages.ToFrozenSet(StringComparer.Ordinal);
        var previous = paused;
        if (previous.SetEquals(next))
        {
            return;
        }

        paused = next;
        Changed?.Invoke(next);
    }
}
