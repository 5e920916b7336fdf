using Consumers.Contracts;
using Consumers.Runtime.Messaging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Consumers.Runtime.Recovery;

/// <summary>
/// The sweep's statements. Each batch is one statement (atomic: a sweeper that dies mid-batch leaves nothing
/// half done) that locks its rows with <c>FOR UPDATE SKIP LOCKED</c>, so two sweeps, or a sweep and a worker,
/// never act on the same row at once. Every change appends its timeline event with the next sequence number
/// and queues its outbox messages, like <see cref="Jobs.JobStore"/>.
/// </summary>
public sealed class RecoveryStore(NpgsqlDataSource dataSource, IOptions<RabbitMqOptions> rabbitOptions)
{
    // Stale: no heartbeat for longer than the lease. Hung: still beating, but past its deadline.
    // An attempt of a job with no earlier expiry ran beside other jobs, so its death may be another job's doing: it
    // is not charged. Later attempts ran alone (a suspect holds its worker's solo gate), so their deaths are their own:
    // charged, and counted towards quarantine, which wins over running out of attempts.
    private const string Candidates =
        "SELECT id, lease_owner AS previous_worker, " +
        "(processing_deadline_at IS NOT NULL AND processing_deadline_at < now()) AS hung, " +
        "(@enforce AND lease_expiry_count > 0 AND lease_expiry_count + 1 < @quarantine_after AND attempt_count - uncharged_attempts >= max_attempts) AS exhausted, " +
        "(lease_expiry_count + 1 >= @quarantine_after) AS quarantined, " +
        "(lease_expiry_count = 0) AS uncharged " +
        // A dead attempt of a job with a pending cancel is not requeued: the cancel sweep ends it (JobStore.CancelAbandonedAsync).
        "FROM jobs WHERE status = 'processing' AND cancel_requested_at IS NULL AND (" +
        "(last_heartbeat_at < now() - make_interval(secs => @min_lease) AND last_heartbeat_at < now() - make_interval(secs => lease_timeout_seconds)) " +
        "OR processing_deadline_at < now()) " +
        "ORDER BY last_heartbeat_at LIMIT @batch";

    private const string Recover =
        "WITH c AS (" + Candidates + " FOR UPDATE SKIP LOCKED), " +
        "t AS (UPDATE jobs j SET " +
        "status = CASE WHEN c.exhausted OR c.quarantined THEN 'failed' ELSE 'queued' END, " +
        "lease_owner = NULL, lease_expiry_count = j.lease_expiry_count + 1, progress_percent = NULL, not_before = NULL, " +
        "uncharged_attempts = j.uncharged_attempts + CASE WHEN c.uncharged AND NOT (c.exhausted OR c.quarantined) THEN 1 ELSE 0 END, " +
        "dispatched = NOT (c.exhausted OR c.quarantined), dispatched_at = CASE WHEN c.exhausted OR c.quarantined THEN NULL ELSE now() END, " +
        "finished_at = CASE WHEN c.exhausted OR c.quarantined THEN now() END, " +
        "last_error_code = CASE WHEN c.exhausted THEN 'RETRIES_EXHAUSTED' WHEN c.quarantined THEN 'QUARANTINED' ELSE 'LEASE_LOST' END, " +
        "last_error_message = CASE WHEN c.exhausted THEN (j.attempt_count - j.uncharged_attempts) || ' of ' || j.max_attempts || ' attempts used; the last one stopped heartbeating (LEASE_LOST)' " +
        "WHEN c.quarantined THEN 'attempts of this job died ' || (j.lease_expiry_count + 1) || ' times, the last ' || j.lease_expiry_count || ' running alone on their worker; set aside' " +
        "ELSE 'the attempt stopped heartbeating; requeued' END, " +
        "last_event_seq = j.last_event_seq + 1, updated_at = now() " +
        "FROM c WHERE j.id = c.id " +
        "RETURNING j.id, j.stage, j.attempt_count, j.last_event_seq, j.request, j.last_error_message, c.previous_worker, c.hung, c.exhausted, c.quarantined), " +
        "e AS (INSERT INTO job_events (job_id, seq, type, attempt, occurred_at, data) " +
        "SELECT t.id, t.last_event_seq, " +
        "CASE WHEN t.exhausted THEN 'failed' WHEN t.quarantined THEN 'quarantined' ELSE 'requeued' END, t.attempt_count, now(), " +
        "CASE WHEN t.exhausted THEN jsonb_build_object('code', 'RETRIES_EXHAUSTED', 'lastCode', 'LEASE_LOST', 'message', t.last_error_message, 'attempt', t.attempt_count::text) " +
        "WHEN t.quarantined THEN jsonb_build_object('code', 'QUARANTINED', 'message', t.last_error_message, 'attempt', t.attempt_count::text) " +
        "ELSE jsonb_strip_nulls(jsonb_build_object('reason', CASE WHEN t.hung THEN 'hung' ELSE 'stale' END, 'previousWorker', t.previous_worker)) END " +
        "FROM t RETURNING job_id, seq, type, attempt, occurred_at, data), " +
        "o AS (INSERT INTO outbox_messages (message_id, job_id, message_type, body) " +
        "SELECT gen_random_uuid(), e.job_id, 'JobTimelineEvent', jsonb_build_object('schemaVersion', 1, 'jobId', e.job_id, 'sequence', e.seq, " +
        "'type', e.type, 'attempt', e.attempt, 'stage', t.stage, 'occurredAt', e.occurred_at, 'data', e.data) FROM e JOIN t ON t.id = e.job_id RETURNING 1), " +
        "r AS (INSERT INTO outbox_messages (message_id, job_id, message_type, destination, body) " +
        "SELECT gen_random_uuid(), t.id, 'JobRequested', @job_queue, t.request FROM t WHERE NOT (t.exhausted OR t.quarantined) RETURNING 1) " +
        "SELECT id, previous_worker, hung, exhausted, quarantined FROM t";

    private const string DueForDispatch =
        "SELECT id FROM jobs WHERE status = 'queued' AND (" +
        "(NOT dispatched AND (not_before IS NULL OR not_before <= now())) " +
        "OR (dispatched AND dispatched_at < now() - make_interval(secs => @redispatch_after))) " +
        "ORDER BY not_before NULLS FIRST LIMIT @batch";

    private const string Dispatch =
        "WITH due AS (" + DueForDispatch + " FOR UPDATE SKIP LOCKED), " +
        "t AS (UPDATE jobs j SET dispatched = true, dispatched_at = now(), updated_at = now() FROM due WHERE j.id = due.id RETURNING j.id, j.request) " +
        "INSERT INTO outbox_messages (message_id, job_id, message_type, destination, body) " +
        "SELECT gen_random_uuid(), t.id, 'JobRequested', @job_queue, t.request FROM t RETURNING job_id";

    /// <summary>Requeues (or fails, or quarantines) one batch of processing jobs whose attempt is dead or hung.</summary>
    public async Task<IReadOnlyList<RecoveredJob>> RecoverStaleAsync(RecoveryOptions options, double minLeaseSeconds, bool dryRun, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(dryRun ? Candidates : Recover);
        command.Parameters.Add(new NpgsqlParameter("enforce", NpgsqlDbType.Boolean) { Value = options.EnforceAttemptLimits });
        command.Parameters.Add(new NpgsqlParameter("quarantine_after", NpgsqlDbType.Integer) { Value = Math.Max(1, options.QuarantineAfterLeaseExpiries) });
        command.Parameters.Add(new NpgsqlParameter("min_lease", NpgsqlDbType.Double) { Value = minLeaseSeconds });
        command.Parameters.Add(new NpgsqlParameter("batch", NpgsqlDbType.Integer) { Value = options.BatchSize });
        if (!dryRun)
        {
            command.Parameters.Add(new NpgsqlParameter("job_queue", NpgsqlDbType.Text) { Value = rabbitOptions.Value.JobQueue });
        }

        var recovered = new List<RecoveredJob>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var outcome = reader.GetBoolean(3) ? "exhausted" : reader.GetBoolean(4) ? "quarantined" : reader.GetBoolean(2) ? "requeued_hung" : "requeued_stale";
            recovered.Add(new RecoveredJob(reader.GetGuid(0), outcome, reader.IsDBNull(1) ? null : reader.GetString(1)));
        }

        return recovered;
    }

    /// <summary>Sends the JobRequested of one batch of queued jobs whose retry backoff has passed (or whose message went missing).</summary>
    public async Task<IReadOnlyList<RecoveredJob>> DispatchDueAsync(RecoveryOptions options, bool dryRun, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(dryRun ? DueForDispatch : Dispatch);
        command.Parameters.Add(new NpgsqlParameter("redispatch_after", NpgsqlDbType.Double) { Value = options.RedispatchAfter.TotalSeconds });
        command.Parameters.Add(new NpgsqlParameter("batch", NpgsqlDbType.Integer) { Value = options.BatchSize });
        if (!dryRun)
        {
            command.Parameters.Add(new NpgsqlParameter("job_queue", NpgsqlDbType.Text) { Value = rabbitOptions.Value.JobQueue });
        }

        var dispatched = new List<RecoveredJob>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            dispatched.Add(new RecoveredJob(reader.GetGuid(0), "dispatched", null));
        }

        return dispatched;
    }

    /// <summary>Puts a failed (or stuck queued) job back in the queue on an operator's word, with fresh attempts.</summary>
    public async Task<string?> RequeueByOperatorAsync(Guid jobId, string note, CancellationToken cancellationToken) =>
        await RequeueByOperatorAsync(jobId, note, by: null, cancellationToken);

    /// <summary>As above, naming who asked in the <c>requeued</c> event (<c>by</c>), as a cancel does.</summary>
    public async Task<string?> RequeueByOperatorAsync(Guid jobId, string note, string? by, CancellationToken cancellationToken)
    {
        const string sql =
            "WITH t AS (UPDATE jobs SET status = 'queued', uncharged_attempts = attempt_count, lease_expiry_count = 0, " +
            "not_before = NULL, dispatched = true, dispatched_at = now(), finished_at = NULL, lease_owner = NULL, progress_percent = NULL, " +
            "last_event_seq = last_event_seq + 1, updated_at = now() " +
            "WHERE id = @id AND status IN ('failed', 'queued') RETURNING id, stage, attempt_count, last_event_seq, request), " +
            "e AS (INSERT INTO job_events (job_id, seq, type, attempt, occurred_at, data) " +
            "SELECT id, last_event_seq, 'requeued', attempt_count, now(), jsonb_strip_nulls(jsonb_build_object('reason', 'operator', 'note', @note, 'by', @by)) FROM t " +
            "RETURNING job_id, seq, type, attempt, occurred_at, data), " +
            "o AS (INSERT INTO outbox_messages (message_id, job_id, message_type, body) " +
            "SELECT gen_random_uuid(), e.job_id, 'JobTimelineEvent', jsonb_build_object('schemaVersion', 1, 'jobId', e.job_id, 'sequence', e.seq, " +
            "'type', e.type, 'attempt', e.attempt, 'stage', t.stage, 'occurredAt', e.occurred_at, 'data', e.data) FROM e, t RETURNING 1), " +
            "r AS (INSERT INTO outbox_messages (message_id, job_id, message_type, destination, body) " +
            "SELECT gen_random_uuid(), id, 'JobRequested', @job_queue, request FROM t RETURNING 1) " +
            "SELECT (SELECT count(*) FROM t), (SELECT status FROM jobs WHERE id = @id)";
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter("note", NpgsqlDbType.Text) { Value = note });
        command.Parameters.Add(new NpgsqlParameter("by", NpgsqlDbType.Text) { Value = (object?)Control.ControlLimits.Clip(by, Control.ControlLimits.By) ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("job_queue", NpgsqlDbType.Text) { Value = rabbitOptions.Value.JobQueue });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        // Null: requeued. Otherwise the status that refused it ("missing" when there is no such job).
        return reader.GetInt64(0) == 1 ? null : reader.IsDBNull(1) ? "missing" : reader.GetString(1);
    }
}
