using System.Net;
using System.Text.Json.Serialization;
using Consumers.Admin.Access;
using Consumers.Admin.Api;
using Consumers.Admin.Dashboard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Admin;

/// <summary>
/// The admin HTTP server: the API under <c>/api</c>, its OpenAPI document at <c>/openapi/v1.json</c> and the dashboard
/// at <c>/</c>, on <c>Consumers:Admin:Address:Port</c>. A web host of its own (its own listener, its own port), so a
/// worker's <c>/metrics</c> port never serves the admin API; the runtime is reached through <see cref="RuntimeServices"/>.
/// </summary>
public sealed partial class AdminServer : IAsyncDisposable
{
    public const string OpenApiPath = "/openapi/v1.json";

    private readonly WebApplication app;

    private AdminServer(WebApplication app, Uri address)
    {
        this.app = app;
        Address = address;
    }

    /// <summary>The address it listens on, with the port it took.</summary>
    public Uri Address { get; }

    /// <summary>Starts the server for the runtime in <paramref name="runtime"/>; its settings must be registered there.</summary>
    public static async Task<AdminServer> StartAsync(IServiceProvider runtime, CancellationToken cancellationToken)
    {
        var options = runtime.GetRequiredService<IOptions<AdminOptions>>().Value;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
        // One log for the process: the runtime's.
        builder.Logging.ClearProviders();
        builder.Services.Replace(ServiceDescriptor.Singleton(runtime.GetRequiredService<ILoggerFactory>()));
        // UseUrls, as the worker's ops endpoint does: it replaces any ASPNETCORE_URLS/HTTP_PORTS from the environment.
        builder.WebHost.UseUrls($"http://{new IPEndPoint(IPAddress.Parse(options.Address), options.Port)}");
        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton<AdminCredentials>();
        builder.Services.AddSingleton(new RuntimeServices(runtime));
        builder.Services.AddSingleton<AdminQueries>();
        // A query value that does not parse (limit=abc) is a 400 whose detail names the parameter, not a bare status.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            if (c.Exception is BadHttpRequestException bad)
            {
                c.ProblemDetails.Title = "Bad request";
                c.ProblemDetails.Detail = bad.Message;
            }
        });
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        builder.Services.AddOpenApi("v1", o => o.AddDocumentTransformer<AdminOpenApi>());

        var app = builder.Build();
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = ex => ex is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError,
        });
        // Empty 4xx answers (an unknown route, a body that is not JSON) get a problem-details body too.
        app.UseStatusCodePages();
        app.MapOpenApi(OpenApiPath);
        var api = app.MapGroup("/api");
        OverviewEndpoints.Map(api);
        JobEndpoints.Map(api);
        StageEndpoints.Map(api);
        DeadLetterEndpoints.Map(api);
        DashboardEndpoints.Map(app);

        await app.StartAsync(cancellationToken);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var address = new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        LogListening(runtime.GetRequiredService<ILogger<AdminServer>>(), address);
        return new AdminServer(app, address);
    }

    public Task StopAsync(CancellationToken cancellationToken) => app.StopAsync(cancellationToken);

    public ValueTask DisposeAsync() => app.DisposeAsync();

    [LoggerMessage(Level = LogLevel.Information, Message = "Admin API and dashboard on {Address}")]
    private static partial void LogListening(ILogger logger, Uri address);
}
