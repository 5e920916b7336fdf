namespace Consumers.Runtime.Scratch;

/// <summary>Settings under <c>Consumers:Scratch</c>.</summary>
public sealed class ScratchOptions
{
    public const string Section = "Consumers:Scratch";

    /// <summary>Where each attempt gets its working folder. Best on the same filesystem as the artifact root.</summary>
    public string Root { get; set; } = Path.Combine(Path.GetTempPath(), "consumers", "scratch");

    /// <summary>Keep a failed attempt's folder for inspection (deleted later by the janitor's budgets).</summary>
    public bool KeepOnFailure { get; set; } = true;
}
