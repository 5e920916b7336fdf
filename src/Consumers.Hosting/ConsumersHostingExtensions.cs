using Consumers.Media;
using Consumers.Runtime;
using Consumers.Runtime.Control;
using Consumers.Runtime.Flow;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Messaging;
using Consumers.Runtime.Outbox;
using Consumers.Runtime.Settings;
using Consumers.Runtime.Telemetry;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Consumers.Hosting;

/// <summary>
/// The worker runtime in a host of your own: what <c>consumers run</c> is, minus its command line and logging.
/// Settings come from the host's configuration (<c>Consumers:*</c>, see docs/configuration.md).
/// </summary>
public static class ConsumersHostingExtensions
{
    /// <summary>
    /// Registers the job consumer, heartbeat, outbox relay, recovery sweep, flow control, the built-in and ffmpeg
    /// stages, health checks and OpenTelemetry (metrics always, traces when <c>Consumers:Telemetry:OtlpEndpoint</c>
    /// is set). Add your own stages as <see cref="Runtime.Stages.IStage"/> singletons. Call once.
    /// </summary>
    /// <exception cref="InvalidOperationException">The host registered a MassTransit bus of its own.</exception>
    public static IHostApplicationBuilder AddConsumersWorker(this IHostApplicationBuilder builder)
    {
        if (builder.Services.Any(s => s.ServiceType == typeof(IBusControl)))
        {
            // MassTransit allows one AddMassTransit per container; a second bus needs AddMassTransit<TBus>, and the
            // runtime resolves IBus/IBusControl for its relay, lanes and control endpoints, so it cannot share.
            throw new InvalidOperationException(
                "This host already registered a MassTransit bus (AddMassTransit). The Consumers runtime brings its own bus " +
                "and cannot share the container's default one: run the worker as its own process (consumers run), or in a " +
                "host without AddMassTransit; producers in this host can publish JobRequested through their own bus.");
        }

        var configuration = builder.Configuration;
        builder.Services.AddConsumersWorker(configuration);
        builder.Services.AddMediaStages(configuration);
        builder.Services.AddOptions<HostOptions>().Configure<IOptions<FlowOptions>>((host, flow) => host.ShutdownTimeout = flow.Value.HostShutdownTimeout);
        builder.Services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("postgresql", tags: [ReadyTag])
            .AddCheck<IntakeHealthCheck>("job-intake", tags: [ReadyTag])
            .AddCheck<BrokerHealthCheck>("rabbitmq", tags: [ReadyTag])
            .AddCheck<OutboxStallHealthCheck>("outbox", tags: [ReadyTag])
            .AddCheck<StagePauseHealthCheck>("stage-pauses", tags: [ReadyTag]);

        // Whether traces are exported decides what is registered, so it is read (and checked) here.
        var telemetry = configuration.ReadValidatedSettings<TelemetryOptions>(TelemetryOptions.Section);
        var openTelemetry = builder.Services.AddOpenTelemetry()
            // The worker id as service.instance.id on every span and in target_info: the name leases and timelines use.
            .ConfigureResource(resource => resource.AddDetector(sp => ConsumersResource.Detector(sp.GetRequiredService<IOptions<WorkerOptions>>().Value.WorkerId)))
            .WithMetrics(metrics => metrics
                .AddMeter(ConsumersMetrics.MeterName, "MassTransit")
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        if (!string.IsNullOrWhiteSpace(telemetry.OtlpEndpoint))
        {
            // Only with somewhere to send them: recording spans nobody exports costs CPU on every message and statement.
            openTelemetry.WithTracing(tracing => tracing
                .AddSource(ConsumersActivitySource.Name, "MassTransit")
                .AddNpgsql()
                .AddOtlpExporter(o => o.Endpoint = new Uri(telemetry.OtlpEndpoint)));
        }

        return builder;
    }

    /// <summary>Serves <c>/metrics</c> (Prometheus), <c>/health/live</c> and <c>/health/ready</c> (JSON with every check).</summary>
    public static IEndpointRouteBuilder MapConsumersEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint("/metrics");
        endpoints.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        endpoints.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = HealthResponse.WriteAsync,
        });
        return endpoints;
    }

    private const string ReadyTag = "ready";
}
