using Consumers.Contracts;

namespace Consumers.Runtime.Jobs.Sql;

/// <summary>
/// The recovery sweep's statements. Each batch is one statement (atomic: a sweeper that dies mid-batch leaves nothing
/// half done) that locks its rows with <c>FOR UPDATE SKIP LOCKED</c>, so two sweeps, or a sweep and a worker, never act
/// on the same row at once; changes go through <see cref="TransitionSql"/> like every other.
/// </summary>
internal static class SweepSql
{
    /// <summary>
    /// Processing jobs whose attempt is dead (no heartbeat for longer than the lease, and than @min_lease) or hung
    /// (still beating, past its deadline), up to @batch, oldest beat first. Returns <c>id, previous_worker, hung,
    /// exhausted, quarantined, uncharged</c>. An attempt of a job with no earlier expiry ran beside other jobs, so its
    /// death may be another job's doing: it is not charged. Later attempts ran alone (a suspect holds its worker's solo
    /// gate), so their deaths are their own: charged, and counted towards quarantine (@quarantine_after), which wins
    /// over running out of attempts (checked only when @enforce). A job with a pending cancel is left to the cancel sweep.
    /// </summary>
    public const string StaleCandidates =
        """
        SELECT id, lease_owner AS previous_worker,
          (processing_deadline_at IS NOT NULL AND processing_deadline_at < now()) AS hung,
          (@enforce AND lease_expiry_count > 0 AND lease_expiry_count + 1 < @quarantine_after AND attempt_count - uncharged_attempts >= max_attempts) AS exhausted,
          (lease_expiry_count + 1 >= @quarantine_after) AS quarantined,
          (lease_expiry_count = 0) AS uncharged
        FROM jobs WHERE status = 'processing' AND cancel_requested_at IS NULL AND (
          (last_heartbeat_at < now() - make_interval(secs => @min_lease) AND last_heartbeat_at < now() - make_interval(secs => lease_timeout_seconds))
          OR processing_deadline_at < now())
        ORDER BY last_heartbeat_at LIMIT @batch
        """;

    /// <summary>
    /// Requeues (with a fresh <c>JobRequested</c>, event <c>requeued</c>), fails (@exhausted_code, event <c>failed</c>)
    /// or quarantines (@quarantined_code, event <c>quarantined</c>) the <see cref="StaleCandidates"/>; @lease_lost_code
    /// names the cause. Returns the candidates' columns.
    /// </summary>
    public static readonly string RecoverStale = TransitionSql.Build(
        """
        UPDATE jobs j SET
          status = CASE WHEN c.exhausted OR c.quarantined THEN 'failed' ELSE 'queued' END,
          lease_owner = NULL, lease_expiry_count = j.lease_expiry_count + 1, progress_percent = NULL, not_before = NULL,
          uncharged_attempts = j.uncharged_attempts + CASE WHEN c.uncharged AND NOT (c.exhausted OR c.quarantined) THEN 1 ELSE 0 END,
          dispatched = NOT (c.exhausted OR c.quarantined), dispatched_at = CASE WHEN c.exhausted OR c.quarantined THEN NULL ELSE now() END,
          finished_at = CASE WHEN c.exhausted OR c.quarantined THEN now() END,
          last_error_code = CASE WHEN c.exhausted THEN @exhausted_code WHEN c.quarantined THEN @quarantined_code ELSE @lease_lost_code END,
          last_error_message = CASE
            WHEN c.exhausted THEN (j.attempt_count - j.uncharged_attempts) || ' of ' || j.max_attempts || ' attempts used; the last one stopped heartbeating (' || @lease_lost_code || ')'
            WHEN c.quarantined THEN 'attempts of this job died ' || (j.lease_expiry_count + 1) || ' times, the last ' || j.lease_expiry_count || ' running alone on their worker; set aside'
            ELSE 'the attempt stopped heartbeating; requeued' END,
          last_event_seq = j.last_event_seq + 1, updated_at = now()
        FROM c WHERE j.id = c.id
        RETURNING j.id, j.stage, j.attempt_count, j.last_event_seq, j.request, j.last_error_message,
          c.previous_worker, c.hung, c.exhausted, c.quarantined, c.uncharged
        """,
        TransitionSql.Events.PerRow(
            $"CASE WHEN t.exhausted THEN '{TimelineEventTypes.Failed}' WHEN t.quarantined THEN '{TimelineEventTypes.Quarantined}' ELSE '{TimelineEventTypes.Requeued}' END",
            """
            CASE WHEN t.exhausted THEN jsonb_build_object('code', @exhausted_code, 'lastCode', @lease_lost_code, 'message', t.last_error_message, 'attempt', t.attempt_count::text)
              WHEN t.quarantined THEN jsonb_build_object('code', @quarantined_code, 'message', t.last_error_message, 'attempt', t.attempt_count::text)
              ELSE jsonb_strip_nulls(jsonb_build_object('reason', CASE WHEN t.hung THEN 'hung' ELSE 'stale' END, 'previousWorker', t.previous_worker)) END
            """),
        "SELECT t.id, t.previous_worker, t.hung, t.exhausted, t.quarantined, t.uncharged FROM t",
        prelude: "c AS (" + StaleCandidates + " FOR UPDATE SKIP LOCKED)",
        dispatchWhen: "NOT (t.exhausted OR t.quarantined)");

    /// <summary>
    /// Queued jobs whose request must be sent (again), up to @batch: a retry whose backoff has passed, or a request
    /// sent longer than @redispatch_after seconds ago that no worker took (its message went missing). Returns <c>id</c>.
    /// </summary>
    public const string DueForDispatch =
        """
        SELECT id FROM jobs WHERE status = 'queued' AND (
          (NOT dispatched AND (not_before IS NULL OR not_before <= now()))
          OR (dispatched AND dispatched_at < now() - make_interval(secs => @redispatch_after)))
        ORDER BY not_before NULLS FIRST LIMIT @batch
        """;

    /// <summary>Sends the request of the <see cref="DueForDispatch"/> jobs; no event (nothing happened to the job). Returns <c>id</c>.</summary>
    public static readonly string Dispatch = TransitionSql.Build(
        "UPDATE jobs j SET dispatched = true, dispatched_at = now(), updated_at = now() FROM due WHERE j.id = due.id " +
        "RETURNING j.id, j.stage, j.attempt_count, j.last_event_seq, j.request",
        TransitionSql.Events.None,
        "SELECT t.id FROM t",
        prelude: "due AS (" + DueForDispatch + " FOR UPDATE SKIP LOCKED)",
        dispatchWhen: "true");

    /// <summary>
    /// An operator puts a failed (or stuck queued) job @id back in the queue with fresh attempts (event <c>requeued</c>,
    /// reason operator, @note). Returns <c>requeued</c> (1 or 0) and the <c>status</c> the job had before (null: no such job).
    /// </summary>
    public static readonly string RequeueByOperator = TransitionSql.Build(
        """
        UPDATE jobs SET status = 'queued', uncharged_attempts = attempt_count, lease_expiry_count = 0,
          not_before = NULL, dispatched = true, dispatched_at = now(), finished_at = NULL, lease_owner = NULL, progress_percent = NULL,
          last_event_seq = last_event_seq + 1, updated_at = now()
        WHERE id = @id AND status IN ('failed', 'queued') RETURNING
        """ + " " + TransitionSql.RowColumns,
        TransitionSql.Events.PerRow($"'{TimelineEventTypes.Requeued}'", "jsonb_strip_nulls(jsonb_build_object('reason', 'operator', 'note', @note::text, 'by', @by::text))"),
        "SELECT (SELECT count(*) FROM t) AS requeued, (SELECT status FROM jobs WHERE id = @id) AS status",
        dispatchWhen: "true");
}
