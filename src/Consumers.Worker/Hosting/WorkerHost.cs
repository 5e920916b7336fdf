using Consumers.Admin;
using Consumers.Hosting;
using Consumers.Runtime.Settings;
using Consumers.Runtime.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Consumers.Worker.Hosting;

/// <summary>
/// The worker process (<c>consumers run</c>): the runtime as any host gets it (<see cref="ConsumersHostingExtensions"/>),
/// with console logging, idle memory trimming, the admin server when enabled, and its ops endpoint on <c>Consumers:Telemetry:MetricsAddress:MetricsPort</c>.
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

        // Read here to bind the metrics listener before the host starts, so checked here too.
        var telemetry = builder.Configuration.ReadValidatedSettings<TelemetryOptions>(TelemetryOptions.Section);

        builder.WebHost.UseUrls($"http://{telemetry.MetricsAddress}:{telemetry.MetricsPort}");

        builder.AddConsumersWorker();
        builder.Services.AddHostedService<IdleMemoryTrim>();
        // The admin API and dashboard on their own port, when Consumers:Admin:Enabled.
        builder.Services.AddConsumersAdminServer(builder.Configuration);

        customize?.Invoke(builder);
        var app = builder.Build();
        app.MapConsumersEndpoints();
        return app;
    }
}
