using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Consumers.Runtime.Settings;

/// <summary>A setting that moved to another key; the old key is still read while the new one is absent.</summary>
internal sealed record RenamedSetting(string OldKey, string NewKey);

internal static class RenamedSettingServiceCollectionExtensions
{
    /// <summary>
    /// Keeps <paramref name="oldKey"/> working for <typeparamref name="T"/>: when <paramref name="newKey"/> is not set
    /// anywhere, the old key's value is applied after binding (and checked with the new key's rules), and the host logs
    /// a warning at start naming both keys. When both are set the new key wins, and the warning says the old one is ignored.
    /// </summary>
    public static IServiceCollection AddRenamedSetting<T>(this IServiceCollection services, IConfiguration configuration,
        string oldKey, string newKey, Action<T, string> apply)
        where T : class
    {
        services.AddSingleton(new RenamedSetting(oldKey, newKey));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RenamedSettingsWarning>());
        services.PostConfigure<T>(options =>
        {
            if (configuration[newKey] is null && configuration[oldKey] is { } value)
            {
                apply(options, value);
            }
        });
        return services;
    }
}

/// <summary>Says at start which settings still use an old key, so that operators move them before the old key goes.</summary>
internal sealed partial class RenamedSettingsWarning(IConfiguration configuration, IEnumerable<RenamedSetting> renamed,
    ILogger<RenamedSettingsWarning> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var setting in renamed)
        {
            if (configuration[setting.OldKey] is null)
            {
                continue;
            }

            if (configuration[setting.NewKey] is null)
            {
                LogOldKeyUsed(setting.OldKey, setting.NewKey);
            }
            else
            {
                LogOldKeyIgnored(setting.OldKey, setting.NewKey);
            }
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Setting {OldKey} is deprecated and will be removed: its value is used for {NewKey}; set {NewKey} instead")]
    private partial void LogOldKeyUsed(string oldKey, string newKey);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Setting {OldKey} is deprecated and ignored because {NewKey} is set; remove {OldKey}")]
    private partial void LogOldKeyIgnored(string oldKey, string newKey);
}
