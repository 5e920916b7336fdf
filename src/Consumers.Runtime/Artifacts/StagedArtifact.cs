namespace Consumers.Runtime.Artifacts;

/// <summary>
/// An output moved into the store's private staging area and flushed to disk, with its size and SHA-256: placing it
/// under its key is then one no-replace rename (<see cref="IArtifactStore.TryPlace"/>).
/// </summary>
/// <param name="From">Where the stage left it, where <see cref="IArtifactStore.Unstage"/> puts it back.</param>
public sealed record StagedArtifact(string Key, string StagedPath, string From, long Size, string Sha256)
{
    public ArtifactRecord Record => new(Key, Size, Sha256);
}
