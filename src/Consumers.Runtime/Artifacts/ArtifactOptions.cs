namespace Consumers.Runtime.Artifacts;

/// <summary>Settings under <c>Consumers:Artifacts</c>.</summary>
public sealed class ArtifactOptions : Settings.IValidatedSettings
{
    public const string Section = "Consumers:Artifacts";

    /// <summary>Root folder of committed artifacts. Shared by all workers that write the same keys.</summary>
    public string Root { get; set; } = Path.Combine(Path.GetTempPath(), "consumers", "artifacts");

    /// <summary>
    /// Folders jobs may read sources from; a relative source is taken from the first. A source outside all of
    /// them is <c>INVALID_REQUEST</c>. Empty means the one default folder below.
    /// </summary>
    public List<string> MediaRoots { get; set; } = [];

    public static string DefaultMediaRoot => Path.Combine(Path.GetTempPath(), "consumers", "media");

    /// <summary>The media roots in force (configuration binding appends to lists, so the default is applied here).</summary>
    public IReadOnlyList<string> EffectiveMediaRoots => MediaRoots.Count > 0 ? MediaRoots : [DefaultMediaRoot];

    /// <inheritdoc />
    public IReadOnlyList<string> Problems() => new Settings.SettingsRules(Section)
        .Require(!string.IsNullOrWhiteSpace(Root), nameof(Root), "must name a folder")
        .Require(MediaRoots.All(r => !string.IsNullOrWhiteSpace(r)), nameof(MediaRoots), "must not contain an empty entry")
        .Problems;
}
