namespace Consumers.Runtime.Telemetry;

/// <summary>Settings under <c>Consumers:Telemetry</c>.</summary>
public sealed class TelemetryOptions : Settings.IValidatedSettings
{
    public const string Section = "Consumers:Telemetry";

    /// <summary>Port of the ops endpoint: <c>/metrics</c>, <c>/health/live</c>, <c>/health/ready</c>. 0 picks a free port.</summary>
    public int MetricsPort { get; set; } = 9464;

    /// <summary>
    /// Address the ops endpoint binds to. Loopback by default, private on a shared machine; in a container set
    /// <c>0.0.0.0</c>, or Prometheus and the orchestrator's probes cannot reach it.
    /// </summary>
    public string MetricsAddress { get; set; } = "127.0.0.1";

    /// <summary>OTLP endpoint for traces (for example http://127.0.0.1:4317). Empty: traces are not exported.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <inheritdoc />
    public IReadOnlyList<string> Problems() => new Settings.SettingsRules(Section)
        .Within(MetricsPort, 0, 65535, nameof(MetricsPort))
        .Require(System.Net.IPAddress.TryParse(MetricsAddress, out _) || MetricsAddress is "*" or "+" or "localhost", nameof(MetricsAddress),
            $"must be an IP address, localhost or * (is '{MetricsAddress}')")
        .Require(OtlpEndpoint is null || Uri.TryCreate(OtlpEndpoint, UriKind.Absolute, out _), nameof(OtlpEndpoint), "must be an absolute URI")
        .Problems;
}
