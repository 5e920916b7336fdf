using System.Reflection;
using OpenTelemetry.Resources;

namespace Consumers.Runtime.Telemetry;

/// <summary>
/// Who sends the signals: <c>service.name</c> <c>consumers</c>, <c>service.instance.id</c> the worker id (the same
/// name leases and timelines carry) and <c>service.version</c> the runtime's version. Set on the tracer's and the
/// meter's resource, so spans name their worker and Prometheus shows the three in <c>target_info</c>.
/// </summary>
public static class ConsumersResource
{
    public const string ServiceName = "consumers";

    /// <summary>The runtime's informational version without the source revision suffix (for example <c>1.0.0</c>).</summary>
    public static string ServiceVersion { get; } = VersionOf(typeof(ConsumersResource).Assembly);

    public static ResourceBuilder Describe(this ResourceBuilder resource, string workerId) =>
        resource.AddService(ServiceName, serviceVersion: ServiceVersion, autoGenerateServiceInstanceId: false, serviceInstanceId: workerId);

    /// <summary>The same description, for a host that learns the worker id only once its settings are bound.</summary>
    public static IResourceDetector Detector(string workerId) => new WorkerDetector(workerId);

    private static string VersionOf(Assembly assembly)
    {
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                      ?? assembly.GetName().Version?.ToString() ?? "0.0.0";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }
}

internal sealed class WorkerDetector(string workerId) : IResourceDetector
{
    public Resource Detect() => ResourceBuilder.CreateEmpty().Describe(workerId).Build();
}
