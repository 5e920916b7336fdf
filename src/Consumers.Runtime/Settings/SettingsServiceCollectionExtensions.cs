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
    /// For settings that decide what is registered (the sweep's and retention's schedules) and are injected as well:
    /// bound once, now, and that same instance is what <see cref="IOptions{TOptions}"/> gives, checked with the same
    /// rules when the host starts (as <see cref="AddValidatedSettings{T}"/>). A second call returns the first call's
    /// instance, so registration and the running code read one binding.
    /// </summary>
    public static T AddSettingsBoundNow<T>(this IServiceCollection services, IConfiguration configuration, string section)
        where T : class, IValidatedSettings, new()
    {
        if (services.FirstOrDefault(d => d.ServiceType == typeof(BoundSettings<T>))?.ImplementationInstance is BoundSettings<T> bound)
        {
            return bound.Value;
        }

        var settings = new T();
        configuration.GetSection(section).Bind(settings);
        services.AddSingleton(new BoundSettings<T>(settings));
        services.AddOptions<T>().ValidateOnStart();
        services.AddSingleton<IValidateOptions<T>, SettingsValidation<T>>();
        services.AddSingleton<IOptionsFactory<T>, BoundSettingsFactory<T>>();
        return settings;
    }

    /// <summary>The instance <see cref="AddSettingsBoundNow{T}"/> bound, checked: a broken rule throws now, naming key and rule.</summary>
    public static T Checked<T>(this T settings, string section)
        where T : class, IValidatedSettings
    {
        if (settings.Problems() is { Count: > 0 } problems)
        {
            throw new OptionsValidationException(section, typeof(T), problems);
        }

        return settings;
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

/// <summary>The one binding of <typeparamref name="T"/> made by <see cref="SettingsServiceCollectionExtensions.AddSettingsBoundNow{T}"/>.</summary>
internal sealed record BoundSettings<T>(T Value) where T : class;

/// <summary>Gives the instance bound at registration instead of binding the section again; the usual validators still run.</summary>
internal sealed class BoundSettingsFactory<T>(BoundSettings<T> bound, IEnumerable<IValidateOptions<T>> validators) : IOptionsFactory<T>
    where T : class
{
    public T Create(string name)
    {
        var failures = validators.Select(v => v.Validate(name, bound.Value)).Where(r => r.Failed).SelectMany(r => r.Failures ?? []).ToList();
        return failures.Count > 0 ? throw new OptionsValidationException(name, typeof(T), failures) : bound.Value;
    }
}
