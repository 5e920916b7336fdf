using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Settings;

/// <summary>Turns the problems a settings class reports into an options validation failure at start-up.</summary>
internal sealed class SettingsValidation<T> : IValidateOptions<T>
    where T : class, IValidatedSettings
{
    public ValidateOptionsResult Validate(string? name, T options) =>
        options.Problems() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
