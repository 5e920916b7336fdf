using Consumers.Runtime.Jobs;
using Consumers.Runtime.Leases;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Consumers.Runtime.Control;

/// <summary>
/// Listens on <see cref="JobStore.ControlChannel"/> so operator actions reach this worker in milliseconds: a cancel
/// request stops the local attempt of that job, a pause change refreshes <see cref="StagePauses"/>. It also reads the
/// pauses every <see cref="RefreshInterval"/>, which keeps a worker right even when it missed a notification (they are
/// not queued for a listener that was reconnecting). Cancels have their own fallback: the heartbeat's answer.
/// </summary>
internal sealed partial class ControlListener(
    NpgsqlDataSource dataSource,
    [FromKeyedServices(Persistence.DataSources.Session)] NpgsqlDataSource sessions,
    ActiveJobRegistry registry, StagePauses pauses, ILogger<ControlListener> logger) : BackgroundService
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(1);

    // How long start-up waits for the first read of the pauses before it lets the bus start without them.
    private static readonly TimeSpan FirstReadTimeout = TimeSpan.FromSeconds(10);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // A new worker obeys the pauses from its first delivery: read them before the bus (registered later) starts.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(FirstReadTimeout);
        try
        {
            pauses.Apply((await new StagePauseStore(dataSource).ListAsync(timeout.Token)).Select(p => p.Stage));
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            LogFirstReadFailed(ex.Message);
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ListenAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogListenFailed(ex.Message);
                try
                {
                    await Task.Delay(RefreshInterval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        // LISTEN is session state: an unpooled connection, so it ends with the session and never returns to the pool.
        await using var connection = await sessions.OpenConnectionAsync(stoppingToken);
        var refresh = false;
        connection.Notification += (_, e) =>
        {
            if (e.Payload.StartsWith("cancel:", StringComparison.Ordinal) && Guid.TryParse(e.Payload.AsSpan(7), out var jobId))
            {
                StopLocal(jobId);
            }
            else
            {
                refresh = true;
            }
        };
        await using (var listen = new NpgsqlCommand("LISTEN " + JobStore.ControlChannel, connection))
        {
            await listen.ExecuteNonQueryAsync(stoppingToken);
        }

        var nextRead = TimeProvider.System.GetTimestamp();
        while (!stoppingToken.IsCancellationRequested)
        {
            if (refresh || TimeProvider.System.GetTimestamp() >= nextRead)
            {
                refresh = false;
                pauses.Apply((await StagePauseStore.ListAsync(connection, stoppingToken)).Select(p => p.Stage));
                nextRead = TimeProvider.System.GetTimestamp() + (long)(RefreshInterval.TotalSeconds * TimeProvider.System.TimestampFrequency);
            }

            await connection.WaitAsync(RefreshInterval, stoppingToken);
        }
    }

    private void StopLocal(Guid jobId)
    {
        foreach (var job in registry.Snapshot())
        {
            if (job.Lease.JobId == jobId)
            {
                LogCancelSignal(jobId);
                job.Stop(StopReason.Cancelled);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the stage pauses at start ({Error}); starting without them, reading again every second")]
    private partial void LogFirstReadFailed(string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cancel requested for running job {JobId}: stopping it")]
    private partial void LogCancelSignal(Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Control channel lost ({Error}); listening again (pauses are read every second, cancels also ride on the heartbeat)")]
    private partial void LogListenFailed(string error);
}
