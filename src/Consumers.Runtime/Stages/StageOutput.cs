namespace Consumers.Runtime.Stages;

/// <summary>The file a stage produced, inside its scratch folder.</summary>
public sealed record StageOutput(string FilePath)
{
    /// <summary>
    /// True when the stage has already checked this output as <see cref="IStage.ValidateAsync"/> would (from what it
    /// knows about how it made the file), so the commit does not check it again. Existing artifacts found before a
    /// run are always validated.
    /// </summary>
    public bool Validated { get; init; }

    /// <summary>False for <see cref="RecordedInParent"/>: nothing to commit.</summary>
    public bool IsArtifact { get; init; } = true;

    /// <summary>
    /// What a segment job returns: its segments are recorded in its parent's checkpoint (fenced, as it went), so there is
    /// no artifact; the job succeeds with a <c>completed</c> event that names the parent instead.
    /// </summary>
    public static StageOutput RecordedInParent { get; } = new("") { IsArtifact = false };
}
