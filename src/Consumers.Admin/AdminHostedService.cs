using Microsoft.Extensions.Hosting;

namespace Consumers.Admin;

/// <summary>The admin server inside a worker (<c>Consumers:Admin:Enabled</c>): started with the host, stopped with it.</summary>
public sealed class AdminHostedService(IServiceProvider services) : IHostedService, IAsyncDisposable
{
    private AdminServer? server;

    /// <summary>Where the admin server listens once started (tests read it when the port was 0).</summary>
    public Uri? Address => server?.Address;

    public async Task StartAsync(CancellationToken cancellationToken) => server = await AdminServer.StartAsync(services, cancellationToken);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (server is not null)
        {
            await server.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }
    }
}
