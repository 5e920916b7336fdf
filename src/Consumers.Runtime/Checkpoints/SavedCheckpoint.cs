using System.Text.Json;

namespace Consumers.Runtime.Checkpoints;

/// <summary>
/// What an earlier attempt recorded, as a new attempt receives it: the stage's state and the parts that are still
/// whole on disk (size and SHA-256 checked; parts that fail are left out, so the stage redoes them).
/// </summary>
/// <param name="Attempt">The attempt that saved it.</param>
/// <param name="State">The stage's state, as it saved it.</param>
/// <param name="Parts">The parts, by name, that passed the checks.</param>
/// <param name="DroppedParts">How many recorded parts were missing or damaged.</param>
public sealed record SavedCheckpoint(int Attempt, JsonElement State, IReadOnlyDictionary<string, CheckpointPart> Parts, int DroppedParts);
