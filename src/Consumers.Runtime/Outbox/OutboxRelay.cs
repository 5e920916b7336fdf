using System.Diagnostics;
using System.Text.Json;
using Consumers.Runtime.Messaging;
using Consumers.Runtime.Persistence;
using Microsoft.Extensions.DependencyInjection;
using Consumers.Runtime.Telemetry;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Consumers.Runtime.Outbox;

/// <summary>
/// Publishes outbox rows to RabbitMQ. One relay in the whole system is the leader (a session advisory lock,
/// released by PostgreSQL when its process dies); it wakes on <c>NOTIFY consumers_outbox</c>, reads due rows in
/// id order, publishes each job's messages one after another (different jobs in parallel) with their stored
/// MessageId, deletes what the broker confirmed and backs off what failed. A failed message holds back only
/// the later messages of its own job, never the rest.
/// </summary>
public sealed partial class OutboxRelay(
    [FromKeyedServices(DataSources.Session)] NpgsqlDataSource dataSource,
    IBusControl bus,
    ConsumersMetrics metrics,
    IOptions<OutboxOptions> options,
    IOptions<RabbitMqOptions> rabbitOptions,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    public const string Channel = "consumers_outbox";

    /// <summary>Advisory lock key of the relay leader ("consumer" in ASCII).</summary>
    private const long LeaderLockKey = 0x636f6e73756d6572;

    /// <summary>Due rows in id order, leaving out a job's rows behind one of its rows that waits for a retry.</summary>
    internal const string SelectDue =
        "SELECT id, message_id, job_id, message_type, destination, body, created_at, attempts, trace_parent FROM outbox_messages o " +
        "WHERE o.next_attempt_at <= now() AND NOT EXISTS (SELECT 1 FROM outbox_messages p " +
        "WHERE p.attempts > 0 AND p.job_id = o.job_id AND p.id < o.id AND p.next_attempt_at > now()) ORDER BY o.id LIMIT @limit";

    /// <summary>
    /// A failed publish waits for its retry. It must count an attempt: <see cref="SelectDue"/> looks for waiting rows
    /// only among rows with attempts (its index holds only those).
    /// </summary>
    internal const string DeferFailed =
        "UPDATE outbox_messages SET attempts = attempts + 1, last_error = @error, next_attempt_at = now() + make_interval(secs => @delay) WHERE id = @id";

    private long backlog;
    private volatile bool isLeader;

    /// <summary>Rows waiting the last time the relay counted.</summary>
    public long Backlog => Interlocked.Read(ref backlog);

    public bool IsLeader => isLeader;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        metrics.ObserveGauge("outbox_backlog", () => Backlog, "Outbox messages not yet published (as last counted by the leader relay).");
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Publishing before the bus has declared its topology could drop messages on an unbound exchange.
        while (bus.CheckHealth().Status == BusHealthStatus.Unhealthy)
        {
            await Task.Delay(100, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await LeadAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogRelayError(ex);
            }
            finally
            {
                isLeader = false;
            }

            await Task.Delay(options.Value.StandbyInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task LeadAsync(CancellationToken stoppingToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
        await using (var tryLock = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection))
        {
            tryLock.Parameters.AddWithValue("key", LeaderLockKey);
            if (await tryLock.ExecuteScalarAsync(stoppingToken) is not true)
            {
                return;
            }
        }

        isLeader = true;
        LogLeader();
        var notified = 0;
        connection.Notification += (_, _) => Interlocked.Exchange(ref notified, 1);
        await using (var listen = new NpgsqlCommand("LISTEN " + Channel, connection))
        {
            await listen.ExecuteNonQueryAsync(stoppingToken);
        }

        var lastCount = Stopwatch.StartNew();
        await CountBacklogAsync(connection, stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            Interlocked.Exchange(ref notified, 0);
            var published = await PublishRoundAsync(connection, stoppingToken);
            if (lastCount.Elapsed > TimeSpan.FromSeconds(5))
            {
                await CountBacklogAsync(connection, stoppingToken);
                lastCount.Restart();
            }

            if (published == options.Value.BatchSize || Volatile.Read(ref notified) == 1)
            {
                continue;
            }

            // Notifications that arrived while we published were flagged above; otherwise sleep until one comes.
            await connection.WaitAsync(options.Value.PollInterval, stoppingToken);
        }
    }

    /// <summary>One round: publish up to a batch of due rows. Returns how many rows were read.</summary>
    private async Task<int> PublishRoundAsync(NpgsqlConnection connection, CancellationToken stoppingToken)
    {
        var rows = new List<OutboxRow>();
        await using (var select = new NpgsqlCommand(SelectDue, connection))
        {
            select.Parameters.AddWithValue("limit", options.Value.BatchSize);
            await using var reader = await select.ExecuteReaderAsync(stoppingToken);
            while (await reader.ReadAsync(stoppingToken))
            {
                rows.Add(new OutboxRow(reader.GetInt64(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetString(5), reader.GetFieldValue<DateTimeOffset>(6), reader.GetInt32(7),
                    reader.IsDBNull(8) ? null : reader.GetString(8)));
            }
        }

        if (rows.Count == 0)
        {
            Interlocked.Exchange(ref backlog, 0);
            return 0;
        }

        var sent = new List<long>(rows.Count);
        var failed = new List<(OutboxRow Row, string Error)>();
        using var throttle = new SemaphoreSlim(options.Value.MaxParallelPublishes);
        var groups = rows.GroupBy(r => r.JobId).Select(async group =>
        {
            await throttle.WaitAsync(stoppingToken);
            try
            {
                foreach (var row in group)
                {
                    var error = await PublishAsync(row, stoppingToken);
                    lock (sent)
                    {
                        if (error is null)
                        {
                            sent.Add(row.Id);
                        }
                        else
                        {
                            failed.Add((row, error));
                        }
                    }

                    if (error is not null)
                    {
                        // Later messages of this job wait behind the failed one: order per job is kept.
                        break;
                    }
                }
            }
            finally
            {
                throttle.Release();
            }
        });
        await Task.WhenAll(groups);

        await using var batch = new NpgsqlBatch(connection);
        if (sent.Count > 0)
        {
            var delete = new NpgsqlBatchCommand("DELETE FROM outbox_messages WHERE id = ANY(@ids)");
            delete.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = sent.ToArray() });
            batch.BatchCommands.Add(delete);
        }

        foreach (var (row, error) in failed)
        {
            var delay = TimeSpan.FromTicks(Math.Min(options.Value.RetryDelay.Ticks * (1L << Math.Min(row.Attempts, 16)), options.Value.MaxRetryDelay.Ticks));
            var retry = new NpgsqlBatchCommand(DeferFailed);
            retry.Parameters.AddWithValue("error", error.Length > 1000 ? error[..1000] : error);
            retry.Parameters.AddWithValue("delay", delay.TotalSeconds);
            retry.Parameters.AddWithValue("id", row.Id);
            batch.BatchCommands.Add(retry);
        }

        // Marking must not be cancelled half-way: an unmarked, published row would only be published again.
        await batch.ExecuteNonQueryAsync(CancellationToken.None);
        if (failed.Count > 0)
        {
            LogPublishFailed(failed.Count, failed[0].Error);
        }

        return rows.Count;
    }

    private async Task<string?> PublishAsync(OutboxRow row, CancellationToken stoppingToken)
    {
        if (!OutboxMessageTypes.TryResolve(row.MessageType, out var type))
        {
            return $"unknown message type '{row.MessageType}'";
        }

        // Continue the trace of the transaction that wrote the row; MassTransit carries it on to subscribers.
        using var span = ConsumersActivitySource.Source.StartActivity("outbox.publish", ActivityKind.Producer, row.TraceParent);
        span.TagPublish(type, row.Destination, row.MessageId);
        span?.SetTag("job.id", row.JobId);
        try
        {
            var message = JsonSerializer.Deserialize(row.Body, type, Runtime.ContractJson.Options)
                          ?? throw new JsonException("empty body");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(options.Value.PublishTimeout);
            if (row.Destination is null)
            {
                await bus.Publish(message, type, context => context.MessageId = row.MessageId, timeout.Token);
            }
            else
            {
                await bus.SendToJobQueueAsync(rabbitOptions.Value, row.Destination, message, type, row.MessageId, timeout.Token);
            }

            metrics.OutboxPublished.Add(1, new KeyValuePair<string, object?>("type", row.MessageType));
            metrics.OutboxPublishLatency.Record(Math.Max(0, (DateTimeOffset.UtcNow - row.CreatedAt).TotalSeconds),
                new KeyValuePair<string, object?>("type", row.MessageType));
            return null;
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            metrics.OutboxPublishFailures.Add(1, new KeyValuePair<string, object?>("type", row.MessageType));
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            return ex.GetType().Name + ": " + ex.Message;
        }
    }

    private async Task CountBacklogAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var count = new NpgsqlCommand("SELECT count(*) FROM outbox_messages", connection);
        Interlocked.Exchange(ref backlog, (long)(await count.ExecuteScalarAsync(cancellationToken))!);
    }

    private sealed record OutboxRow(long Id, Guid MessageId, Guid JobId, string MessageType, string? Destination, string Body, DateTimeOffset CreatedAt, int Attempts, string? TraceParent);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox relay is the leader: publishing outbox messages")]
    private partial void LogLeader();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay stopped leading: {Error}")]
    private partial void LogRelayErrorCore(string error, Exception exception);

    private void LogRelayError(Exception exception) => LogRelayErrorCore(exception.Message, exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} outbox messages failed to publish and will be retried: {Error}")]
    private partial void LogPublishFailed(int count, string error);
}
