using System.Diagnostics.Metrics;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Consumers.Runtime.Control;

/// <summary>
/// <c>operator_actions_total{action}</c> on every worker's /metrics, counted from the audit table rather than in the
/// process that acted: the CLI records an action and exits, with no endpoint to scrape, and a message or the HTTP
/// API may act on any worker. Every worker reports the same cluster-wide totals (aggregate with <c>max</c>, not <c>sum</c>).
/// </summary>
public sealed partial class OperatorActionCounts(NpgsqlDataSource dataSource, ConsumersMetrics metrics, ILogger<OperatorActionCounts> logger)
    : BackgroundService
{
    /// <summary>How often the totals are read; an action shows on /metrics within this.</summary>
    public static readonly TimeSpan ReadInterval = TimeSpan.FromSeconds(5);

    // Every known action has a series from the start, so increase() sees the first one.
    private static readonly string[] KnownActions = ["cancel", "pause", "resume", "dead-letter-replay"];

    private volatile IReadOnlyDictionary<string, long> totals = KnownActions.ToDictionary(a => a, _ => 0L, StringComparer.Ordinal);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        metrics.ObserveCounters("operator_actions",
            () => totals.Select(t => new Measurement<long>(t.Value, new KeyValuePair<string, object?>("action", t.Key))),
            "Operator actions recorded in operator_actions (cancel, pause, resume, dead-letter-replay), cluster-wide, by action.");
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                totals = await ReadAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The last totals stay; the database monitor reports an outage itself.
                LogReadFailed(ex.Message);
            }

            try
            {
                await Task.Delay(ReadInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<Dictionary<string, long>> ReadAsync(CancellationToken cancellationToken)
    {
        var read = KnownActions.ToDictionary(a => a, _ => 0L, StringComparer.Ordinal);
        await using var command = dataSource.CreateCommand("SELECT action, count(*) FROM operator_actions GROUP BY action");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            read[reader.GetString(0)] = reader.GetInt64(1);
        }

        return read;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Operator action totals not read: {Error}")]
    private partial void LogReadFailed(string error);
}
