using System.Diagnostics;
using System.Text.Json;
using Consumers.Runtime.Cluster;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Messaging;
using Consumers.Runtime.Persistence;
using Consumers.Runtime.Telemetry;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Consumers.Runtime.Outbox;

/// <summary>
/// Publishes outbox rows to RabbitMQ. One relay in the whole system leads: the holder of the <c>outbox-relay</c>
/// cluster lease (<see cref="ClusterLeaseStore"/>), which it renews every <see cref="OutboxOptions.LeaseRenewInterval"/>;
/// a frozen or cut-off leader stops renewing and a standby takes over once the lease has expired. The leader checks
/// its lease by its own monotonic clock before every round and every publish, and steps down as soon as it cannot be
/// sure; the rows it deletes or defers are fenced by the lease generation, so a leader that wakes after a takeover
/// changes nothing (at worst it publishes a message again, with the same MessageId). It wakes on
/// <c>NOTIFY consumers_outbox</c>, reads due rows in id order, publishes each job's messages one after another
/// (different jobs in parallel) with their stored MessageId, deletes what the broker confirmed and backs off what
/// failed. A failed message holds back only the later messages of its own job, never the rest.
/// </summary>
public sealed partial class OutboxRelay(
    NpgsqlDataSource dataSource,
    [FromKeyedServices(DataSources.Session)] NpgsqlDataSource sessionDataSource,
    ClusterLeaseStore leases,
    IBusControl bus,
    ConsumersMetrics metrics,
    TimeProvider time,
    IOptions<OutboxOptions> options,
    IOptions<RabbitMqOptions> rabbitOptions,
    IOptions<WorkerOptions> workerOptions,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    public const string Channel = "consumers_outbox";

    /// <summary>Name of the relay's row in <c>cluster_leases</c>.</summary>
    public const string LeaseName = "outbox-relay";

    /// <summary>Due rows in id order, leaving out a job's rows behind one of its rows that waits for a retry.</summary>
    internal const string SelectDue =
        "SELECT id, message_id, job_id, message_type, destination, body, created_at, attempts, trace_parent FROM outbox_messages o " +
        "WHERE o.next_attempt_at <= now() AND NOT EXISTS (SELECT 1 FROM outbox_messages p " +
        "WHERE p.attempts > 0 AND p.job_id = o.job_id AND p.id < o.id AND p.next_attempt_at > now()) ORDER BY o.id LIMIT @limit";

    /// <summary>Deletes published rows, only while the relay's lease generation still holds.</summary>
    internal const string DeleteSent =
        "DELETE FROM outbox_messages WHERE id = ANY(@ids) AND EXISTS (" + ClusterLeaseStore.HeldByGeneration + ")";

    /// <summary>
    /// A failed publish waits for its retry, only while the relay's lease generation still holds. It must count an
    /// attempt: <see cref="SelectDue"/> looks for waiting rows only among rows with attempts (its index holds only those).
    /// </summary>
    internal const string DeferFailed =
        "UPDATE outbox_messages SET attempts = attempts + 1, last_error = @error, next_attempt_at = now() + make_interval(secs => @delay) " +
        "WHERE id = @id AND EXISTS (" + ClusterLeaseStore.HeldByGeneration + ")";

    private readonly string holder = $"{workerOptions.Value.WorkerId}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";
    private volatile HeldLease? lease;
    private long lastGeneration;

    /// <summary>True while this relay leads: it holds the lease by its own clock (the <c>outbox_relay_leader</c> gauge).</summary>
    public bool IsLeader => lease?.IsHeld ?? false;

    /// <summary>The generation of the lease this relay holds or last held (0: never led).</summary>
    public long Generation => Interlocked.Read(ref lastGeneration);

    /// <summary>This process's name in the lease row's <c>holder</c>.</summary>
    public string Holder => holder;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
        {
            // This worker only watches the outbox (OutboxBacklogMonitor); other workers relay.
            return;
        }

        // Publishing before the bus has declared its topology could drop messages on an unbound exchange.
        while (bus.CheckHealth().Status == BusHealthStatus.Unhealthy)
        {
            await Task.Delay(100, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }

        var settings = options.Value;
        while (!stoppingToken.IsCancellationRequested)
        {
            var held = await TryAcquireAsync(settings, stoppingToken);
            if (held is not null)
            {
                lease = held;
                Interlocked.Exchange(ref lastGeneration, held.Generation);
                LogLeader(held.Generation);
                string reason;
                try
                {
                    reason = await LeadAsync(held, stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    reason = "shutting down";
                }
                catch (Exception ex)
                {
                    // Whatever went wrong, a standby may lead meanwhile; this relay competes again after StandbyInterval.
                    reason = "error: " + ex.Message;
                    LogRelayError(ex);
                }
                finally
                {
                    held.MarkLost();
                }

                if (stoppingToken.IsCancellationRequested)
                {
                    await ReleaseAsync(held, settings);
                    return;
                }

                LogSteppedDown(held.Generation, reason);
            }

            await Task.Delay(settings.StandbyInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task<HeldLease?> TryAcquireAsync(OutboxOptions settings, CancellationToken stoppingToken)
    {
        var sent = time.GetTimestamp();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(settings.LeaseStatementTimeout);
            var generation = await leases.TryAcquireAsync(LeaseName, holder, settings.LeaseDuration, timeout.Token);
            return generation is { } g ? new HeldLease(LeaseName, g, settings.LeaseDuration, sent, time) : null;
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            LogLeaseCallFailed("acquire", ex.Message);
            return null;
        }
    }

    /// <summary>Leads until the lease is lost or uncertain; returns why it stopped.</summary>
    private async Task<string> LeadAsync(HeldLease held, CancellationToken stoppingToken)
    {
        var settings = options.Value;
        using var leading = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var renewing = RenewAsync(held, settings, leading.Token);
        NpgsqlConnection? listener = null;
        var notified = 0;
        try
        {
            while (true)
            {
                stoppingToken.ThrowIfCancellationRequested();
                if (!held.IsHeld)
                {
                    return renewing.IsCompleted ? "the lease was taken over or expired (renew refused)" : "its lease ran out before a renew succeeded";
                }

                listener ??= await ListenAsync(() => Interlocked.Exchange(ref notified, 1), stoppingToken);
                Interlocked.Exchange(ref notified, 0);
                int published;
                try
                {
                    published = await PublishRoundAsync(held, stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // The database failed this round; the lease (checked above) decides whether we still lead.
                    LogRoundFailed(ex.Message);
                    await Task.Delay(settings.PollInterval, stoppingToken);
                    continue;
                }

                if (published == settings.BatchSize || Volatile.Read(ref notified) == 1)
                {
                    continue;
                }

                // Notifications that arrived while we published were flagged above; otherwise sleep until one comes.
                listener = await WaitForNotificationAsync(listener, settings.PollInterval, stoppingToken);
            }
        }
        finally
        {
            await leading.CancelAsync();
            await renewing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (listener is not null)
            {
                await listener.DisposeAsync();
            }
        }
    }

    /// <summary>Renews the lease until leading ends or the server refuses (then marks the lease lost).</summary>
    private async Task RenewAsync(HeldLease held, OutboxOptions settings, CancellationToken leading)
    {
        while (!leading.IsCancellationRequested)
        {
            await Task.Delay(settings.LeaseRenewInterval, leading);
            var sent = time.GetTimestamp();
            bool renewed;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(leading);
                timeout.CancelAfter(settings.LeaseStatementTimeout);
                renewed = await leases.RenewAsync(held.Name, held.Generation, settings.LeaseDuration, timeout.Token);
            }
            catch (Exception ex) when (!leading.IsCancellationRequested)
            {
                // Unknown outcome: the lease runs on by the local clock from the last renew that surely succeeded.
                LogLeaseCallFailed("renew", ex.Message);
                continue;
            }

            if (!renewed)
            {
                held.MarkLost();
                return;
            }

            held.Renewed(sent, settings.LeaseDuration);
        }
    }

    private async Task ReleaseAsync(HeldLease held, OutboxOptions settings)
    {
        try
        {
            using var timeout = new CancellationTokenSource(settings.LeaseStatementTimeout);
            await leases.ReleaseAsync(held.Name, held.Generation, timeout.Token);
            LogReleased(held.Generation);
        }
        catch (Exception ex)
        {
            // It expires by itself within LeaseDuration.
            LogLeaseCallFailed("release", ex.Message);
        }
    }

    /// <summary>
    /// A session connection listening on the outbox channel, or null when it cannot be opened now (the relay then
    /// polls every <see cref="OutboxOptions.PollInterval"/> and tries again next round).
    /// </summary>
    private async Task<NpgsqlConnection?> ListenAsync(Action onNotification, CancellationToken stoppingToken)
    {
        NpgsqlConnection? connection = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(options.Value.LeaseDuration);
            connection = await sessionDataSource.OpenConnectionAsync(timeout.Token);
            connection.Notification += (_, _) => onNotification();
            await using var listen = new NpgsqlCommand("LISTEN " + Channel, connection);
            await listen.ExecuteNonQueryAsync(timeout.Token);
            return connection;
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            LogListenFailed(ex.Message);
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }

            return null;
        }
    }

    /// <summary>Waits for a notification or the poll interval; returns the listener, or null when it broke.</summary>
    private async Task<NpgsqlConnection?> WaitForNotificationAsync(NpgsqlConnection? listener, TimeSpan pollInterval, CancellationToken stoppingToken)
    {
        if (listener is null)
        {
            await Task.Delay(pollInterval, stoppingToken);
            return null;
        }

        try
        {
            await listener.WaitAsync(pollInterval, stoppingToken);
            return listener;
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            LogListenFailed(ex.Message);
            await listener.DisposeAsync();
            return null;
        }
    }

    /// <summary>One round: publish up to a batch of due rows. Returns how many rows were read.</summary>
    private async Task<int> PublishRoundAsync(HeldLease held, CancellationToken stoppingToken)
    {
        var rows = new List<OutboxRow>();
        await using (var select = dataSource.CreateCommand(SelectDue))
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
                    // A relay that was frozen mid-round must not go on publishing rows a new leader may be publishing
                    // already; what it leaves is not a failure, the new leader publishes it.
                    if (!held.IsHeld)
                    {
                        break;
                    }

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
        if (sent.Count == 0 && failed.Count == 0)
        {
            return rows.Count;
        }

        await using var connection = await dataSource.OpenConnectionAsync(CancellationToken.None);
        await using var batch = new NpgsqlBatch(connection);
        if (sent.Count > 0)
        {
            var delete = new NpgsqlBatchCommand(DeleteSent);
            delete.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = sent.ToArray() });
            AddFence(delete, held);
            batch.BatchCommands.Add(delete);
        }

        foreach (var (row, error) in failed)
        {
            var delay = TimeSpan.FromTicks(Math.Min(options.Value.RetryDelay.Ticks * (1L << Math.Min(row.Attempts, 16)), options.Value.MaxRetryDelay.Ticks));
            var retry = new NpgsqlBatchCommand(DeferFailed);
            retry.Parameters.AddWithValue("error", error.Length > 1000 ? error[..1000] : error);
            retry.Parameters.AddWithValue("delay", delay.TotalSeconds);
            retry.Parameters.AddWithValue("id", row.Id);
            AddFence(retry, held);
            batch.BatchCommands.Add(retry);
        }

        // Marking must not be cancelled half-way: an unmarked, published row would only be published again.
        await batch.ExecuteNonQueryAsync(CancellationToken.None);
        if (sent.Count > 0 && batch.BatchCommands[0].RecordsAffected == 0)
        {
            // Taken over meanwhile: the new leader owns these rows now (it publishes them again, same MessageId).
            held.MarkLost();
            LogFencedOff(held.Generation, sent.Count);
        }

        if (failed.Count > 0)
        {
            LogPublishFailed(failed.Count, failed[0].Error);
        }

        return rows.Count;
    }

    private static void AddFence(NpgsqlBatchCommand command, HeldLease held)
    {
        command.Parameters.AddWithValue("lease", held.Name);
        command.Parameters.AddWithValue("generation", held.Generation);
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

    private sealed record OutboxRow(long Id, Guid MessageId, Guid JobId, string MessageType, string? Destination, string Body, DateTimeOffset CreatedAt, int Attempts, string? TraceParent);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox relay leads (lease generation {Generation}): publishing outbox messages")]
    private partial void LogLeader(long generation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay stepped down (lease generation {Generation}): {Reason}")]
    private partial void LogSteppedDown(long generation, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox relay released its lease (generation {Generation})")]
    private partial void LogReleased(long generation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay lease {Call} failed: {Error}")]
    private partial void LogLeaseCallFailed(string call, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox relay failed while leading: {Error}")]
    private partial void LogRelayErrorCore(string error, Exception exception);

    private void LogRelayError(Exception exception) => LogRelayErrorCore(exception.Message, exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay round failed: {Error}")]
    private partial void LogRoundFailed(string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay cannot listen for notifications (polling meanwhile): {Error}")]
    private partial void LogListenFailed(string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay (lease generation {Generation}) was fenced off: another relay took over, {Count} published row(s) are left to it")]
    private partial void LogFencedOff(long generation, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} outbox messages failed to publish and will be retried: {Error}")]
    private partial void LogPublishFailed(int count, string error);
}
