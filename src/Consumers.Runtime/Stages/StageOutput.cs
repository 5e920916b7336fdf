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
}
