namespace Consumers.Runtime.Settings;

/// <summary>Collects broken rules of one settings section, each prefixed with the section's key.</summary>
public sealed class SettingsRules(string section)
{
    private readonly List<string> problems = [];

    public IReadOnlyList<string> Problems => problems;

    /// <summary>Records "<c>section:key rule</c>" unless <paramref name="holds"/>.</summary>
    public SettingsRules Require(bool holds, string key, string rule)
    {
        if (!holds)
        {
            problems.Add($"{section}:{key} {rule}");
        }

        return this;
    }

    public SettingsRules Positive(TimeSpan value, string key) => Require(value > TimeSpan.Zero, key, $"must be positive (is {value})");

    public SettingsRules Fraction(double value, string key, bool allowZero = false) =>
        Require(double.IsFinite(value) && (allowZero ? value >= 0 : value > 0) && value < 1, key, $"must be a fraction {(allowZero ? "from 0" : "above 0")} and below 1 (is {value})");

    public SettingsRules Within(long value, long min, long max, string key) =>
        Require(value >= min && value <= max, key, $"must be from {min} to {max} (is {value})");

    /// <summary>Adds the problems of a nested settings object (its keys are already full).</summary>
    public SettingsRules Include(IEnumerable<string> nested)
    {
        problems.AddRange(nested);
        return this;
    }
}
