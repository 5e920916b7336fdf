using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Consumers.Runtime.Outbox;

/// <summary>
/// Reads the outbox backlog and the age of its oldest row from the database on every worker, leader or not, so
/// that a relay that publishes nothing (frozen, cut off, or a broker that refuses) shows on every worker's
/// metrics and readiness, not only on the one that should be publishing.
/// </summary>
public sealed partial class OutboxBacklogMonitor(
    NpgsqlDataSource dataSource,
    OutboxRelay relay,
    ConsumersMetrics metrics,
    IOptions<OutboxOptions> options,
    ILogger<OutboxBacklogMonitor> logger) : BackgroundService, Flow.Shutdown.IOutboxBacklog
{
    /// <summary>
    /// Rows waiting (counted up to a million, so a huge backlog costs a bounded scan) and the age of the oldest by
    /// insertion order, by the server's clock.
    /// </summary>
    internal const string ReadBacklog =
        "SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox_messages LIMIT 1000000) b), " +
        "COALESCE(extract(epoch FROM now() - (SELECT created_at FROM outbox_messages ORDER BY id LIMIT 1)), 0)::float8";

    /// <summary>Whether no outbox row waits (the shutdown drain waits for this before the bus stops).</summary>
    internal const string ReadIsEmpty = "SELECT NOT EXISTS (SELECT 1 FROM outbox_messages)";

    private long backlog;
    private double oldestAgeSeconds;

    /// <summary>Rows waiting at the last read.</summary>
    public long Backlog => Interlocked.Read(ref backlog);

    /// <summary>Age of the oldest waiting row at the last read (0 when none waits).</summary>
    public double OldestAgeSeconds => Volatile.Read(ref oldestAgeSeconds);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        metrics.ObserveGauge("outbox_backlog", () => Backlog, "Outbox messages not yet published, read from the database by every worker.");
        metrics.ObserveGauge("outbox_oldest_age_seconds", () => OldestAgeSeconds,
            "Age in seconds of the oldest outbox message not yet published, read from the database by every worker (0 when none waits).");
        metrics.ObserveGauge("outbox_relay_leader", () => relay.IsLeader ? 1 : 0, "1 while this worker's outbox relay holds the relay lease.");
        metrics.ObserveGauge("outbox_relay_lease_generation", () => relay.Generation,
            "Generation of the relay lease this worker holds or last held (0: never led); a jump means a takeover.");
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.BacklogCheckInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var command = dataSource.CreateCommand(ReadBacklog);
                await using var reader = await command.ExecuteReaderAsync(stoppingToken);
                if (await reader.ReadAsync(stoppingToken))
                {
                    Interlocked.Exchange(ref backlog, reader.GetInt64(0));
                    Volatile.Write(ref oldestAgeSeconds, Math.Max(0, reader.GetDouble(1)));
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The database health check reports an unreachable database; keep the last reading.
                LogReadFailed(ex.Message);
            }

            await Task.Delay(interval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    Task<bool> Flow.Shutdown.IOutboxBacklog.IsEmptyAsync(CancellationToken cancellationToken) => IsEmptyAsync(dataSource, cancellationToken);

    /// <summary>True when every outbox row has been published.</summary>
    public static async Task<bool> IsEmptyAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ReadIsEmpty);
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not read the outbox backlog: {Error}")]
    private partial void LogReadFailed(string error);
}
