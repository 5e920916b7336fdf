namespace Consumers.Runtime.Artifacts;

/// <summary>Settings under <c>Consumers:Artifacts</c>.</summary>
public sealed class ArtifactOptions
{
    public const string Section = "Consumers:Artifacts";

    /// <summary>Root folder of committed artifacts. Shared by all workers that write the same keys.</summary>
    public string Root { get; set; } = Path.Combine(Path.GetTempPath(), "consumers", "artifacts");

    /// <summary>Folders jobs may read sources from. A source outside all of them is <c>INVALID_REQUEST</c>.</summary>
    public List<string> MediaRoots { get; set; } = [Path.Combine(Path.GetTempPath(), "consumers", "media")];
}
