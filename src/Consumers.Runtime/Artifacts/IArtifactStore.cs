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

    /// <summary>Moves an existing artifact that failed validation out of the way, keeping it for inspection.</summary>
    Task<string> QuarantineAsync(string key, CancellationToken cancellationToken);
}
