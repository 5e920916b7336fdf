namespace Consumers.Runtime.Artifacts;

/// <summary>A committed artifact as the job row records it.</summary>
public sealed record ArtifactRecord(string Key, long Size, string Sha256);
