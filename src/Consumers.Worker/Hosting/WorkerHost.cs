using Consumers.Media;
using Consumers.Runtime;
using Consumers.Runtime.Flow;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Outbox;
using Consumers.Runtime.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Consumers.Worker.Hosting;

/// <summary>
/// The worker process: the job consumer, heartbeat and outbox relay, plus an ops endpoint on loopback with
/// Prometheus metrics and liveness/readiness probes.
/// </summary>
public static class WorkerHost
{
    /// <param name="customize">Last word on the builder (tests add a log sink here).</param>
    public static WebApplication Build(IEnumerable<KeyValuePair<string, string?>> overrides, Action<WebApplicationBuilder>? customize = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(overrides);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.IncludeScopes = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });

        var telemetry = builder.Configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        // Read here to bind the metrics listener before the host starts, so checked here too.
        if (telemetry.Problems() is { Count: > 0 } telemetryProblems)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException(TelemetryOptions.Section, typeof(TelemetryOptions), telemetryProblems);
        }
        builder.WebHost.UseUrls($"http://{telemetry.MetricsAddress}:{telemetry.MetricsPort}");

        builder.Services.AddConsumersWorker(builder.Configuration);
        builder.Services.AddMediaStages(builder.Configuration);
        builder.Services.AddHostedService<IdleMemoryTrim>();
        var flow = builder.Configuration.GetSection(FlowOptions.Section).Get<FlowOptions>() ?? new FlowOptions();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = flow.HostShutdownTimeout);
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("postgresql", tags: ["ready"])
            .AddCheck<IntakeHealthCheck>("job-intake", tags: ["ready"])
            .AddCheck<Runtime.Messaging.BrokerHealthCheck>("rabbitmq", tags: ["ready"])
            .AddCheck<OutboxStallHealthCheck>("outbox", tags: ["ready"])
            .AddCheck<Runtime.Control.StagePauseHealthCheck>("stage-pauses", tags: ["ready"]);
        // The worker id as service.instance.id on every span and in target_info: the name leases and timelines use.
        var workerId = (builder.Configuration.GetSection(WorkerOptions.Section).Get<WorkerOptions>() ?? new WorkerOptions()).WorkerId;
        var openTelemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.Describe(workerId))
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

        customize?.Invoke(builder);
        var app = builder.Build();
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains("ready"),
            ResponseWriter = HealthResponse.WriteAsync,
        });
        return app;
    }
}
