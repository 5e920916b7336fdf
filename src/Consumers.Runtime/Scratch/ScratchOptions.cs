namespace Consumers.Runtime.Scratch;

/// <summary>Settings under <c>Consumers:Scratch</c>.</summary>
public sealed class ScratchOptions : Settings.IValidatedSettings
{
    public const string Section = "Consumers:Scratch";

    /// <summary>Where each attempt gets its working folder. Best on the same filesystem as the artifact root.</summary>
    public string Root { get; set; } = Path.Combine(Path.GetTempPath(), "consumers", "scratch");

    /// <summary>Keep a failed attempt's folder for inspection (deleted later by the janitor's budgets).</summary>
    public bool KeepOnFailure { get; set; } = true;

    /// <summary>Kept scratch older than this is removed by the janitor.</summary>
    public TimeSpan MaxKeptAge { get; set; } = TimeSpan.FromDays(3);

    /// <summary>When kept scratch grows above this, the janitor removes the oldest first.</summary>
    public long MaxKeptBytes { get; set; } = 5L * 1024 * 1024 * 1024;

    /// <summary>How often the janitor runs.</summary>
    public TimeSpan JanitorInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <inheritdoc />
    public IReadOnlyList<string> Problems() => new Settings.SettingsRules(Section)
        .Require(!string.IsNullOrWhiteSpace(Root), nameof(Root), "must name a folder")
        .Positive(MaxKeptAge, nameof(MaxKeptAge))
        .Require(MaxKeptBytes >= 0, nameof(MaxKeptBytes), "must not be negative")
        .Positive(JanitorInterval, nameof(JanitorInterval))
        .Problems;
}
