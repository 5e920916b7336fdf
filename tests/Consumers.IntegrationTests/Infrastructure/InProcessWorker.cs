using Consumers.Worker.Hosting;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Consumers.IntegrationTests.Infrastructure;

/// <summary>The real worker host, started inside the test process against the real stack.</summary>
public sealed class InProcessWorker : IAsyncDisposable
{
    private readonly WebApplication app;
    private bool stopped;

    private InProcessWorker(WebApplication app)
    {
        this.app = app;
    }

    public IServiceProvider Services => app.Services;

    public T Get<T>() where T : notnull => app.Services.GetRequiredService<T>();

    public static async Task<InProcessWorker> StartAsync(IDictionary<string, string?> settings, string logFile)
    {
        var app = WorkerHost.Build(settings, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new FileLoggerProvider(logFile));
        });
        await app.StartAsync();
        var bus = app.Services.GetRequiredService<IBusControl>();
        await Eventually.WaitAsync(() => Task.FromResult(bus.CheckHealth().Status == BusHealthStatus.Healthy),
            TimeSpan.FromSeconds(60), () => "the worker's bus did not become healthy: " + bus.CheckHealth().Description);
        return new InProcessWorker(app);
    }

    public async Task StopAsync()
    {
        if (!stopped)
        {
            stopped = true;
            await app.StopAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await app.DisposeAsync();
    }
}
