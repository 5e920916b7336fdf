namespace Consumers.Runtime.Settings;

/// <summary>A settings class that can say what is wrong with it, each problem naming its full key and the rule.</summary>
public interface IValidatedSettings
{
    /// <summary>Every broken rule, as <c>Consumers:Section:Key must ...</c>; empty when the settings are sound.</summary>
    IReadOnlyList<string> Problems();
}
