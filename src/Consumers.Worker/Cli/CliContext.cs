using Consumers.Media;
using Consumers.Runtime;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Consumers.Worker.Cli;

/// <summary>Configuration and services for the short-lived verbs (everything but <c>run</c>).</summary>
public static class CliContext
{
    /// <summary>appsettings.json beside the executable, then <c>Consumers__...</c> environment variables, then <c>--set key=value</c>.</summary>
    public static IConfiguration BuildConfiguration(IEnumerable<string> overrides) =>
        new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .AddInMemoryCollection(ParseOverrides(overrides))
            .Build();

    /// <param name="extra">More services for one verb (<c>serve</c> adds the admin settings).</param>
    public static ServiceProvider BuildServices(IConfiguration configuration, Action<IServiceCollection>? extra = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        // EF Core logs expected failures (the history table before the first migration) as errors: the verbs report their own.
        services.AddLogging(l => l.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning)
            .AddFilter("Microsoft.EntityFrameworkCore", LogLevel.None));
        services.AddConsumersCore(configuration);
        services.AddMediaStages(configuration);
        extra?.Invoke(services);
        return services.BuildServiceProvider();
    }

    /// <summary>Settings from <c>--set</c>; <c>__</c> may stand for <c>:</c> as in environment variables.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> ParseOverrides(IEnumerable<string> overrides) =>
        ParsePairs(overrides, "--set", "Consumers:Flow:ConcurrentJobs=4")
            .Select(p => new KeyValuePair<string, string?>(p.Key.Replace("__", ":", StringComparison.Ordinal), p.Value));

    /// <summary>Splits <c>key=value</c> items, failing with a usage error that names the option.</summary>
    public static IEnumerable<KeyValuePair<string, string>> ParsePairs(IEnumerable<string> items, string option, string example)
    {
        foreach (var item in items)
        {
            var equals = item.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new UsageException($"{option} expects key=value (for example {example}), got '{item}'");
            }

            yield return new KeyValuePair<string, string>(item[..equals], item[(equals + 1)..]);
        }
    }
}
