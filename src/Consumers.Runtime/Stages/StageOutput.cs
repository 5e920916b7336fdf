namespace Consumers.Runtime.Stages;

/// <summary>The file a stage produced, inside its scratch folder.</summary>
public sealed record StageOutput(string FilePath);
