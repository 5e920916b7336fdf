namespace Consumers.Runtime.Artifacts;

/// <summary>
/// Where artifacts live. The one promise every implementation keeps: <see cref="CommitAsync"/> never
/// replaces an existing artifact and never exposes a partial one (an object store would use a conditional
/// create such as If-None-Match: *).
/// </summary>
public interface IArtifactStore
{
    /// <summary>The local path of a key, for validation and reading; throws <c>INVALID_REQUEST</c> when the key escapes the store.</summary>
    string PathOf(string key);

    /// <summary>Describes an existing artifact, or null when there is none.</summary>
    Task<ArtifactRecord?> DescribeAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Moves <paramref name="file"/> into place under <paramref name="key"/>. Returns the committed record, or
    /// null when an artifact already exists under that key (the file then stays where it was).
    /// </summary>
    Task<ArtifactRecord?> CommitAsync(string file, string key, CancellationToken cancellationToken);

    /// <summary>
    /// The first half of a commit: moves <paramref name="file"/> into staging, flushed, with its size and checksum. Null
    /// when an artifact already exists under <paramref name="key"/> (the file then stays where it was).
    /// </summary>
    Task<StagedArtifact?> StageAsync(string file, string key, CancellationToken cancellationToken);

    /// <summary>
    /// The second half: places <paramref name="staged"/> under its key without replacing anything and makes the name
    /// durable. False when an artifact exists under the key (the staged file stays staged).
    /// </summary>
    bool TryPlace(StagedArtifact staged);

    /// <summary>Puts a staged file that was not placed back where the stage left it.</summary>
    void Unstage(StagedArtifact staged);

    /// <summary>Deletes staged files staged longer ago than <paramref name="age"/> (a crash's leftovers); returns their paths.</summary>
    IReadOnlyList<string> RemoveStagedOlderThan(TimeSpan age);

    /// <summary>Moves an existing artifact that failed validation out of the way, keeping it for inspection.</summary>
    Task<string> QuarantineAsync(string key, CancellationToken cancellationToken);
}
