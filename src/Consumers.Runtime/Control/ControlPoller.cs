using Consumers.Runtime.Jobs;
using Consumers.Runtime.Jobs.Sql;
using Consumers.Runtime.Leases;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Consumers.Runtime.Control;

/// <summary>
/// Brings operator actions to this worker by reading them: the stage pauses every <see cref="IdleInterval"/>, and
/// while jobs run, every <see cref="BusyInterval"/>, the pauses and which of its running jobs carry a cancel request
/// (one round trip). A read, not <c>LISTEN</c>: PostgreSQL wakes every listening session of the database on every
/// notifying commit, whatever the channel, and each wake-up is a transaction, so a listening worker paid about one
/// transaction for every job's outbox commit. Cancels also ride on the heartbeat's answer.
/// </summary>
internal sealed partial class ControlPoller(NpgsqlDataSource dataSource, ActiveJobRegistry registry, StagePauses pauses, ILogger<ControlPoller> logger)
    : BackgroundService
{
    /// <summary>How often a worker with no running job reads the pauses.</summary>
    public static readonly TimeSpan IdleInterval = TimeSpan.FromSeconds(1);

    /// <summary>How often a worker with running jobs reads the pauses and its jobs' cancel requests.</summary>
    public static readonly TimeSpan BusyInterval = TimeSpan.FromMilliseconds(500);

    // How long start-up waits for the first read of the pauses before it lets the bus start without them.
    private static readonly TimeSpan FirstReadTimeout = TimeSpan.FromSeconds(10);

    private bool failing;

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
            var running = registry.Snapshot();
            try
            {
                await ReadAsync(running, stoppingToken);
                failing = false;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Said once per outage, not every second: the database monitor reports the outage itself.
                if (!failing)
                {
                    LogReadFailed(ex.Message);
                }

                failing = true;
            }

            try
            {
                await Task.Delay(running.Count > 0 ? BusyInterval : IdleInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ReadAsync(IReadOnlyCollection<ActiveJob> running, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(StagePauseStore.ListStages));
        if (running.Count > 0)
        {
            var cancels = new NpgsqlBatchCommand(CancelSql.RequestedAmong);
            cancels.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid)
            {
                Value = running.Select(j => j.Lease.JobId).Distinct().ToArray(),
            });
            batch.BatchCommands.Add(cancels);
        }

        var paused = new List<string>();
        var cancelled = new HashSet<Guid>();
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                paused.Add(reader.GetString(0));
            }

            if (await reader.NextResultAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    cancelled.Add(reader.GetGuid(0));
                }
            }
        }

        pauses.Apply(paused);
        foreach (var job in running)
        {
            if (cancelled.Contains(job.Lease.JobId))
            {
                LogCancelSignal(job.Lease.JobId);
                job.Stop(StopReason.Cancelled);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the stage pauses at start ({Error}); starting without them, reading again every second")]
    private partial void LogFirstReadFailed(string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cancel requested for running job {JobId}: stopping it")]
    private partial void LogCancelSignal(Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the pauses and cancel requests ({Error}); trying again (cancels also ride on the heartbeat)")]
    private partial void LogReadFailed(string error);
}
