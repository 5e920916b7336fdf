namespace Consumers.Runtime.Checkpoints;

/// <summary>A finished part file kept in the job's work folder: its file name there, its size and its SHA-256.</summary>
public sealed record CheckpointPart(string Name, long Size, string Sha256);
