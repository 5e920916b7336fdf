using System.Diagnostics.Metrics;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Consumers.Runtime.Control;

/// <summary>
/// <c>operator_actions_total{action}</c> on every worker's /metrics: the actions recorded in the audit table (by any
/// process: the CLI, a message, the HTTP API) since this worker started. It reads only the rows of the last
/// <see cref="Overlap"/> (by <c>ix_operator_actions_at</c>) and counts each row id once, so a read costs the same on a
/// table of any size, and retention deleting old rows never makes the counter go down. Every worker counts the same
/// actions: aggregate with <c>max</c>, not <c>sum</c>.
/// </summary>
public sealed partial class OperatorActionCounts(NpgsqlDataSource dataSource, ConsumersMetrics metrics, ILogger<OperatorActionCounts> logger)
    : BackgroundService
{
    /// <summary>How often new rows are read; an action shows on /metrics within this.</summary>
    public static readonly TimeSpan ReadInterval = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Each read looks this far back: a row's <c>at</c> is its transaction's start, so one that committed late (or while a
    /// read failed) is still seen; ids already counted are remembered for as long.
    /// </summary>
    public static readonly TimeSpan Overlap = TimeSpan.FromMinutes(1);

    /// <summary>The most rows one read takes; a burst above it is read on by the next reads.</summary>
    private const int ReadLimit = 10_000;

    // Every known action has a series from the start, so increase() sees the first one.
    private static readonly string[] KnownActions = ["cancel", "pause", "resume", "requeue", "dead-letter-replay"];

    private readonly Dictionary<long, DateTimeOffset> counted = [];
    private readonly Dictionary<string, long> running = KnownActions.ToDictionary(a => a, _ => 0L, StringComparer.Ordinal);
    private volatile IReadOnlyDictionary<string, long> totals = KnownActions.ToDictionary(a => a, _ => 0L, StringComparer.Ordinal);
    private DateTimeOffset? startedAt;
    private DateTimeOffset? readOnFrom;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        metrics.ObserveCounters("operator_actions",
            () => totals.Select(t => new Measurement<long>(t.Value, new KeyValuePair<string, object?>("action", t.Key))),
            "Operator actions (cancel, pause, resume, requeue, dead-letter-replay) recorded in operator_actions by any process since this worker started, by action.");
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ReadAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The totals stay; the next read looks back far enough to catch up. The database monitor reports an outage itself.
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

    private async Task ReadAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset now;
        await using (var clock = dataSource.CreateCommand("SELECT now()"))
        await using (var reader = await clock.ExecuteReaderAsync(cancellationToken))
        {
            // The database's clock, the one that stamped the rows.
            await reader.ReadAsync(cancellationToken);
            now = reader.GetFieldValue<DateTimeOffset>(0);
        }

        startedAt ??= now;
        var from = Max(startedAt.Value, now - Overlap);
        if (readOnFrom is { } behind && behind < from)
        {
            from = behind;
        }

        await using var command = dataSource.CreateCommand(
            "SELECT id, action, at FROM operator_actions WHERE at >= @from ORDER BY at, id LIMIT @limit");
        command.Parameters.AddWithValue("from", from);
        command.Parameters.AddWithValue("limit", ReadLimit);
        var rows = 0;
        var last = from;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                rows++;
                last = reader.GetFieldValue<DateTimeOffset>(2);
                if (counted.TryAdd(reader.GetInt64(0), last))
                {
                    var action = reader.GetString(1);
                    running[action] = running.GetValueOrDefault(action) + 1;
                }
            }
        }

        // A full read may have left rows behind: the next one starts where this one stopped.
        readOnFrom = rows >= ReadLimit ? last : null;
        foreach (var old in counted.Where(c => c.Value < from).Select(c => c.Key).ToList())
        {
            counted.Remove(old);
        }

        totals = new Dictionary<string, long>(running, StringComparer.Ordinal);
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    [LoggerMessage(Level = LogLevel.Debug, Message = "Operator actions not read: {Error}")]
    private partial void LogReadFailed(string error);
}
