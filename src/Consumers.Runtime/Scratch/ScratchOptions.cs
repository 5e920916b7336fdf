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

    /// <summary>
    /// A file in the artifact store's staging folder this long after it was staged is a crash's leftover (an attempt
    /// places or gives back its file within seconds, or within <c>Consumers:Worker:CommitRetryTimeout</c> while
    /// PostgreSQL is away): the janitor deletes it. Keep it well above that timeout.
    /// </summary>
    public TimeSpan StagedLeftoverAge { get; set; } = TimeSpan.FromHours(1);

    /// <inheritdoc />
    public IReadOnlyList<string> Problems() => new Settings.SettingsRules(Section)
        .Require(!string.IsNullOrWhiteSpace(Root), nameof(Root), "must name a folder")
        .Positive(MaxKeptAge, nameof(MaxKeptAge))
        .Require(MaxKeptBytes >= 0, nameof(MaxKeptBytes), "must not be negative")
        .Positive(JanitorInterval, nameof(JanitorInterval))
        .Require(StagedLeftoverAge >= TimeSpan.FromMinutes(10), nameof(StagedLeftoverAge), $"must be at least 10 minutes (is {StagedLeftoverAge})")
        .Problems;
}
