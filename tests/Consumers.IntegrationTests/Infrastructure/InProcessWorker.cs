using Consumers.Worker.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

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

    public static async Task<InProcessWorker> StartAsync(IDictionary<string, string?> settings)
    {
        var app = WorkerHost.Build(settings);
        await app.StartAsync();
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
