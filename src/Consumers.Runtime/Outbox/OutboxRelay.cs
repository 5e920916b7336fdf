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
/// changes nothing (at worst it publishes a message again, with the same MessageId). Idle, it LISTENs on
/// <c>consumers_outbox</c>; while it drains a backlog it stops listening (PostgreSQL spends a transaction on a listening
/// session for every notifying commit) and reads in rounds at most every <see cref="OutboxOptions.DrainInterval"/>.
/// Each round is one transaction: it deletes what the previous round published (the broker confirmed it), defers what
/// failed, and reads the next due rows in id order. It publishes each job's messages one after another (different jobs
/// together, their confirms awaited together) with their stored MessageId. A failed message holds back only the later
/// messages of its own job, never the rest; no publish outlives the lease.
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

    private const string DueColumns = "o.id, o.message_id, o.job_id, o.message_type, o.destination, o.body, o.created_at, o.attempts, o.trace_parent";

    // Due, and not behind one of its job's rows that waits for a retry.
    private const string IsDue =
        "o.next_attempt_at <= now() AND NOT EXISTS (SELECT 1 FROM outbox_messages p " +
        "WHERE p.attempts > 0 AND p.job_id = o.job_id AND p.id < o.id AND p.next_attempt_at > now())";

    /// <summary>Due rows in id order, leaving out a job's rows behind one of its rows that waits for a retry.</summary>
    internal const string SelectDue = "SELECT " + DueColumns + " FROM outbox_messages o WHERE " + IsDue + " ORDER BY o.id LIMIT @limit";

    /// <summary>Deletes published rows, only while the relay's lease generation still holds.</summary>
    internal const string DeleteSent =
        "DELETE FROM outbox_messages WHERE id = ANY(@ids) AND EXISTS (" + ClusterLeaseStore.HeldByGeneration + ")";

    /// <summary>
    /// A round's usual statement: <see cref="DeleteSent"/> and <see cref="SelectDue"/> in one. Every row carries how
    /// many rows the delete removed (<c>deleted</c>; 0: the fence failed); with nothing due there is one row whose
    /// <c>id</c> is null. The read sees the rows as they were before the delete, so it leaves out the deleted ids itself.
    /// </summary>
    internal const string DeleteSentAndSelectDue =
        "WITH sent AS (" + DeleteSent + " RETURNING 1) " +
        "SELECT (SELECT count(*) FROM sent) AS deleted, due.* FROM (SELECT 1) one LEFT JOIN LATERAL (" +
        "SELECT " + DueColumns + " FROM outbox_messages o WHERE o.id <> ALL(@ids) AND " + IsDue + " ORDER BY o.id LIMIT @limit) due ON true " +
        "ORDER BY due.id";

    /// <summary>
    /// A failed publish waits for its retry, only while the relay's lease generation still holds. It must count an
    /// attempt: <see cref="SelectDue"/> looks for waiting rows only among rows with attempts (its index holds only those).
    /// </summary>
    internal const string DeferFailed =
        "UPDATE outbox_messages SET attempts = attempts + 1, last_error = @error, next_attempt_at = now() + make_interval(secs => @delay) " +
        "WHERE id = @id AND EXISTS (" + ClusterLeaseStore.HeldByGeneration + ")";

    /// <summary>
    /// Empty rounds in a row (one <see cref="OutboxOptions.DrainInterval"/> apart) after which a draining relay that
    /// stopped listening listens again. Each costs a read; going idle and back costs a LISTEN, a read and an UNLISTEN.
    /// </summary>
    private const int DryRoundsBeforeListening = 3;

    private readonly string holder = $"{workerOptions.Value.WorkerId}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";
    private volatile HeldLease? lease;
    private volatile OutboxListener? listener;
    private long lastGeneration;

    /// <summary>True while this relay leads: it holds the lease by its own clock (the <c>outbox_relay_leader</c> gauge).</summary>
    public bool IsLeader => lease?.IsHeld ?? false;

    /// <summary>
    /// True while this relay leads and LISTENs for notifications: it is idle or about to be. False while it drains a
    /// backlog (notifying commits then cost the database no transaction on the relay's session) and while it does not lead.
    /// </summary>
    public bool IsListening => listener?.IsListening ?? false;

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

    /// <summary>
    /// Leads until the lease is lost or uncertain; returns why it stopped. Idle, the relay LISTENs and waits for a
    /// notification (or <see cref="OutboxOptions.PollInterval"/>). A round that finds rows starts a drain: the relay
    /// stops listening at the next notification, reads a round at most every <see cref="OutboxOptions.DrainInterval"/>
    /// (at once while rounds come back full), and listens again once <see cref="DryRoundsBeforeListening"/> rounds in a
    /// row found nothing; then it reads once more, so that a row committed before the LISTEN took effect is not left
    /// waiting for the poll. A drain during which no commit was notified ends with its first empty round.
    /// </summary>
    private async Task<string> LeadAsync(HeldLease held, CancellationToken stoppingToken)
    {
        var settings = options.Value;
        using var leading = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var renewing = RenewAsync(held, settings, leading.Token);
        var listening = new OutboxListener(sessionDataSource, settings.LeaseDuration);
        listener = listening;
        var marks = new OutboxMarks();
        var draining = false;
        var dryRounds = 0;
        try
        {
            while (true)
            {
                stoppingToken.ThrowIfCancellationRequested();
                if (!held.IsHeld)
                {
                    return renewing.IsCompleted ? "the lease was taken over or expired (renew refused)" : "its lease ran out before a renew succeeded";
                }

                if (draining)
                {
                    await listening.StopIfNotifiedAsync(stoppingToken);
                }
                else
                {
                    await listening.ListenAsync(stoppingToken);
                }

                if (listening.TakeFailure() is { } failure)
                {
                    LogListenFailed(failure);
                }

                var roundStarted = time.GetTimestamp();
                listening.TakeNotified();
                IReadOnlyList<OutboxRow> rows;
                try
                {
                    rows = await RoundAsync(held, marks, stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // The database failed this round; the lease (checked above) decides whether we still lead. The
                    // marks may or may not have committed: forget them. Rows still there are read and published again
                    // (same MessageId); applied twice, a delete finding nothing would look like a lost fence.
                    marks.Clear();
                    LogRoundFailed(ex.Message);
                    await Task.Delay(settings.PollInterval, stoppingToken);
                    continue;
                }

                if (rows.Count > 0)
                {
                    await PublishAllAsync(rows, held, marks, stoppingToken);
                    draining = true;
                    dryRounds = 0;
                    if (rows.Count < settings.BatchSize)
                    {
                        // Let rows gather: fewer, larger rounds. A full round means a backlog: read on at once.
                        await DelayRestOfDrainIntervalAsync(roundStarted, stoppingToken);
                    }

                    continue;
                }

                if (draining)
                {
                    if (!listening.IsListening && ++dryRounds < DryRoundsBeforeListening)
                    {
                        // Commits may still come (nothing tells us while we do not listen): a short lull is not the end.
                        await DelayRestOfDrainIntervalAsync(roundStarted, stoppingToken);
                        continue;
                    }

                    draining = false;
                    if (!listening.IsListening)
                    {
                        // Listen again (top of the loop), then read once more before waiting.
                        continue;
                    }

                    // Still listening: no commit notified since the drain began, there is nothing more to read.
                }

                // Notifications that arrived during the round are flagged and end this wait at once.
                await listening.WaitAsync(settings.PollInterval, stoppingToken);
            }
        }
        finally
        {
            await leading.CancelAsync();
            await renewing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await FlushMarksAsync(held, marks);
            listener = null;
            await listening.DisposeAsync();
        }
    }

    private async Task DelayRestOfDrainIntervalAsync(long roundStarted, CancellationToken stoppingToken)
    {
        var rest = options.Value.DrainInterval - time.GetElapsedTime(roundStarted);
        if (rest > TimeSpan.Zero)
        {
            await Task.Delay(rest, stoppingToken);
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
    /// One round, one transaction: marks what the previous round published (deleted) or failed to publish (deferred),
    /// both fenced by the lease generation, then reads up to a batch of due rows; the delete and the read are one
    /// statement. Returns the rows to publish (none when the fence shows that another relay has taken over).
    /// </summary>
    private async Task<IReadOnlyList<OutboxRow>> RoundAsync(HeldLease held, OutboxMarks marks, CancellationToken stoppingToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
        await using var batch = new NpgsqlBatch(connection);
        AddDeferrals(batch, held, marks);
        var deletes = marks.Sent.Count > 0;
        var read = new NpgsqlBatchCommand(deletes ? DeleteSentAndSelectDue : SelectDue);
        read.Parameters.AddWithValue("limit", options.Value.BatchSize);
        if (deletes)
        {
            AddSent(read, held, marks);
        }

        batch.BatchCommands.Add(read);

        // A cancelled round rolls back whole; its marks stay pending for the next round or the final flush.
        var rows = new List<OutboxRow>();
        long? deleted = null;
        await using (var reader = await batch.ExecuteReaderAsync(stoppingToken))
        {
            // The deferrals return no rows; the read is the last result.
            while (reader.FieldCount == 0 && await reader.NextResultAsync(stoppingToken))
            {
            }

            var first = deletes ? 1 : 0;
            while (await reader.ReadAsync(stoppingToken))
            {
                if (deletes)
                {
                    deleted = reader.GetInt64(0);
                    if (reader.IsDBNull(first))
                    {
                        continue;
                    }
                }

                rows.Add(new OutboxRow(reader.GetInt64(first), reader.GetGuid(first + 1), reader.GetGuid(first + 2), reader.GetString(first + 3),
                    reader.IsDBNull(first + 4) ? null : reader.GetString(first + 4), reader.GetString(first + 5),
                    reader.GetFieldValue<DateTimeOffset>(first + 6), reader.GetInt32(first + 7), reader.IsDBNull(first + 8) ? null : reader.GetString(first + 8)));
            }
        }

        return MarksApplied(held, marks, deleted) ? rows : [];
    }

    /// <summary>Marks what is pending when leading ends, so the next leader does not publish it again.</summary>
    private async Task FlushMarksAsync(HeldLease held, OutboxMarks marks)
    {
        if (marks.IsEmpty)
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(options.Value.LeaseStatementTimeout);
            await using var connection = await dataSource.OpenConnectionAsync(timeout.Token);
            await using var batch = new NpgsqlBatch(connection);
            AddDeferrals(batch, held, marks);
            NpgsqlBatchCommand? delete = null;
            if (marks.Sent.Count > 0)
            {
                delete = new NpgsqlBatchCommand(DeleteSent);
                AddSent(delete, held, marks);
                batch.BatchCommands.Add(delete);
            }

            await batch.ExecuteNonQueryAsync(timeout.Token);
            MarksApplied(held, marks, delete?.RecordsAffected);
        }
        catch (Exception ex)
        {
            // Published rows left unmarked are published again by the next leader, with the same MessageId.
            LogRoundFailed(ex.Message);
        }
    }

    // The published rows to delete, fenced by the lease generation.
    private static void AddSent(NpgsqlBatchCommand command, HeldLease held, OutboxMarks marks)
    {
        command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = marks.Sent.ToArray() });
        AddFence(command, held);
    }

    private void AddDeferrals(NpgsqlBatch batch, HeldLease held, OutboxMarks marks)
    {
        foreach (var (row, error) in marks.Failed)
        {
            var delay = TimeSpan.FromTicks(Math.Min(options.Value.RetryDelay.Ticks * (1L << Math.Min(row.Attempts, 16)), options.Value.MaxRetryDelay.Ticks));
            var retry = new NpgsqlBatchCommand(DeferFailed);
            retry.Parameters.AddWithValue("error", error.Length > 1000 ? error[..1000] : error);
            retry.Parameters.AddWithValue("delay", delay.TotalSeconds);
            retry.Parameters.AddWithValue("id", row.Id);
            AddFence(retry, held);
            batch.BatchCommands.Add(retry);
        }
    }

    /// <summary>
    /// After the marks' transaction committed: false when the fence showed that another relay leads now.
    /// <paramref name="deleted"/>: the rows the delete removed, null when there was nothing to delete.
    /// </summary>
    private bool MarksApplied(HeldLease held, OutboxMarks marks, long? deleted)
    {
        var sent = marks.Sent.Count;
        if (marks.Failed.Count > 0)
        {
            LogPublishFailed(marks.Failed.Count, marks.Failed[0].Error);
        }

        marks.Clear();
        if (deleted == 0)
        {
            // Taken over meanwhile: the new leader owns these rows now (it publishes them again, same MessageId).
            held.MarkLost();
            LogFencedOff(held.Generation, sent);
            return false;
        }

        return true;
    }

    /// <summary>
    /// Publishes a round's rows: different jobs' messages in flight together (up to
    /// <see cref="OutboxOptions.MaxParallelPublishes"/>), each job's one after another, each confirmed by the broker.
    /// What was confirmed or failed is noted in <paramref name="marks"/> for the next round's transaction.
    /// </summary>
    private async Task PublishAllAsync(IReadOnlyList<OutboxRow> rows, HeldLease held, OutboxMarks marks, CancellationToken stoppingToken)
    {
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

                    var outcome = await PublishAsync(row, held, stoppingToken);
                    if (outcome.Abandoned)
                    {
                        break;
                    }

                    lock (marks)
                    {
                        if (outcome.Error is null)
                        {
                            marks.Sent.Add(row.Id);
                        }
                        else
                        {
                            marks.Failed.Add((row, outcome.Error));
                        }
                    }

                    if (outcome.Error is not null)
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
    }

    private static void AddFence(NpgsqlBatchCommand command, HeldLease held)
    {
        command.Parameters.AddWithValue("lease", held.Name);
        command.Parameters.AddWithValue("generation", held.Generation);
    }

    private async Task<PublishOutcome> PublishAsync(OutboxRow row, HeldLease held, CancellationToken stoppingToken)
    {
        if (!OutboxMessageTypes.TryResolve(row.MessageType, out var type))
        {
            return new PublishOutcome($"unknown message type '{row.MessageType}'", false);
        }

        // Continue the trace of the transaction that wrote the row; MassTransit carries it on to subscribers.
        using var span = ConsumersActivitySource.Source.StartActivity("outbox.publish", ActivityKind.Producer, row.TraceParent);
        span.TagPublish(type, row.Destination, row.MessageId);
        span?.SetTag("job.id", row.JobId);
        try
        {
            var message = JsonSerializer.Deserialize(row.Body, type, Runtime.ContractJson.Options)
                          ?? throw new JsonException("empty body");
            // A publish never outlives the lease: once a new leader may publish this job's rows, this one gives up.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var remaining = held.Remaining;
            timeout.CancelAfter(remaining < options.Value.PublishTimeout ? remaining : options.Value.PublishTimeout);
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
            return new PublishOutcome(null, false);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            if (!held.IsHeld)
            {
                // Not a failure to retry: the lease ran out (or was lost) under it and the row is the next leader's.
                return new PublishOutcome(null, true);
            }

            metrics.OutboxPublishFailures.Add(1, new KeyValuePair<string, object?>("type", row.MessageType));
            return new PublishOutcome(ex.GetType().Name + ": " + ex.Message, false);
        }
    }

    /// <summary>A publish's result: confirmed (no error), failed (retry later), or abandoned because the lease ended.</summary>
    private readonly record struct PublishOutcome(string? Error, bool Abandoned);

    /// <summary>What the last round published or failed to publish, marked by the next round's transaction.</summary>
    private sealed class OutboxMarks
    {
        public List<long> Sent { get; } = [];

        public List<(OutboxRow Row, string Error)> Failed { get; } = [];

        public bool IsEmpty => Sent.Count == 0 && Failed.Count == 0;

        public void Clear()
        {
            Sent.Clear();
            Failed.Clear();
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
