using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Settings;

public static class SettingsServiceCollectionExtensions
{
    /// <summary>
    /// Binds <typeparamref name="T"/> to <paramref name="section"/> once and checks it when the host starts (and when a
    /// verb first reads it): a broken rule stops the process with one line naming the key and the rule.
    /// </summary>
    public static IServiceCollection AddValidatedSettings<T>(this IServiceCollection services, IConfiguration configuration, string section)
        where T : class, IValidatedSettings
    {
        services.AddOptions<T>().Bind(configuration.GetSection(section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<T>, SettingsValidation<T>>();
        return services;
    }

    /// <summary>
    /// For the few settings that decide what is registered at all (whether the sweep's scheduler exists, where the ops
    /// endpoint listens, whether traces are exported): bound the same way as <see cref="AddValidatedSettings{T}"/> and
    /// checked with the same rules, now, so a broken rule stops the process with the same one line before anything starts.
    /// </summary>
    public static T ReadValidatedSettings<T>(this IConfiguration configuration, string section)
        where T : class, IValidatedSettings, new()
    {
        var settings = new T();
        configuration.GetSection(section).Bind(settings);
        if (settings.Problems() is { Count: > 0 } problems)
        {
            throw new OptionsValidationException(section, typeof(T), problems);
        }

        return settings;
    }
}
