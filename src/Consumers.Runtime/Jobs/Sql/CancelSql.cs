namespace Consumers.Runtime.Jobs.Sql;

/// <summary>
/// The statements of cancelling. Every one that ends jobs writes the row (status, finish time, the cancel request kept
/// on it) and a <c>cancelled</c> event whose data come from the row (<c>reason</c>, <c>by</c>) and say <c>where</c>
/// the job was stopped. They bind @reason and @by (used only when the row has no request yet) and @trace_parent, and
/// return <c>id, stage, stopped_where</c>.
/// </summary>
internal static class CancelSql
{
    /// <summary>
    /// A job @id that runs nowhere ends at once: queued or queued for a retry (<c>where</c> = queued), or a fanned-out
    /// transcode waiting for its segment jobs (<c>where</c> = waiting). The status is read, locked, before the update
    /// changes it: a row that an acquire or another cancel moved meanwhile is read again once its lock is free, and left
    /// alone when it no longer waits.
    /// </summary>
    public static readonly string CancelQueued = Build("j.id = c.id AND j.status IN ('queued', 'waiting')", "c.was",
        "c AS (SELECT id, CASE WHEN status = 'waiting' THEN 'waiting' ELSE 'queued' END AS was FROM jobs " +
        "WHERE id = @id AND status IN ('queued', 'waiting') FOR UPDATE)",
        "c");

    /// <summary>Whether the attempt (@id, @token) still runs and its job carries a cancel request.</summary>
    public const string RequestedFor =
        "SELECT 1 FROM jobs WHERE id = @id AND lease_token = @token AND status = 'processing' AND cancel_requested_at IS NOT NULL";

    /// <summary>
    /// The queued segment jobs of @id once @id is cancelled (<c>where</c> = queued): a cancelled transcode takes its
    /// segment jobs with it. Run after <see cref="CancelQueued"/> in its transaction.
    /// </summary>
    public static readonly string CancelQueuedSegmentJobs = Build(
        "j.parent_job_id = @id AND j.status = 'queued' AND EXISTS (SELECT 1 FROM jobs p WHERE p.id = @id AND p.status = 'cancelled')", "'queued'");

    /// <summary>The running segment jobs of @id once @id is cancelled: the request is recorded for their workers to read.</summary>
    public const string MarkRunningSegmentJobs =
        """
        WITH r AS (UPDATE jobs SET cancel_requested_at = now(), cancel_reason = @reason, cancel_by = @by, updated_at = now()
          WHERE parent_job_id = @id AND status = 'processing' AND cancel_requested_at IS NULL
            AND EXISTS (SELECT 1 FROM jobs p WHERE p.id = @id AND p.status = 'cancelled') RETURNING id)
        SELECT r.id FROM r
        """;

    /// <summary>A queued row @id whose cancel crossed a retry or requeue ends instead of being acquired (<c>where</c> = queued).</summary>
    public static readonly string CancelPendingQueued = Build("j.id = @id AND j.status = 'queued' AND j.cancel_requested_at IS NOT NULL", "'queued'");

    /// <summary>The running attempt (@id, @token) of a job whose cancel was asked for (<c>where</c> = running).</summary>
    public static readonly string CancelRunning = Build(
        "j.id = @id AND j.lease_token = @token AND j.status = 'processing' AND j.cancel_requested_at IS NOT NULL", "'running'");

    /// <summary>
    /// The sweep's part: up to @batch jobs whose cancel cannot reach a worker, queued rows with a pending request and
    /// running rows whose worker stopped heartbeating or ran past their deadline (<c>where</c> = abandoned). Rows
    /// another transaction holds are left for the next sweep.
    /// </summary>
    public static readonly string CancelAbandoned = Build("j.id = c.id", "c.was",
        """
        c AS (SELECT id, CASE WHEN status = 'queued' THEN 'queued' ELSE 'abandoned' END AS was FROM jobs
          WHERE cancel_requested_at IS NOT NULL AND (status = 'queued' OR (status = 'processing'
            AND (last_heartbeat_at < now() - make_interval(secs => lease_timeout_seconds) OR processing_deadline_at < now())))
          LIMIT @batch FOR UPDATE SKIP LOCKED)
        """,
        "c");

    /// <summary>A running job @id gets the request recorded for its worker to read; returns <c>id</c> when it did.</summary>
    public const string MarkRunning =
        """
        WITH r AS (UPDATE jobs SET cancel_requested_at = now(), cancel_reason = @reason, cancel_by = @by, updated_at = now()
          WHERE id = @id AND status = 'processing' AND cancel_requested_at IS NULL RETURNING id)
        SELECT r.id FROM r
        """;

    /// <summary>Which of the running jobs @ids (this worker's) carry a cancel request: the control poll's question.</summary>
    public const string RequestedAmong =
        "SELECT id FROM jobs WHERE id = ANY(@ids) AND status = 'processing' AND cancel_requested_at IS NOT NULL";

    /// <summary>The job's state after a cancel request: <c>status, stage, pending</c>.</summary>
    public const string CancelState = "SELECT status, stage, cancel_requested_at IS NOT NULL AS pending FROM jobs WHERE id = @id";

    private static string Build(string guard, string where, string? prelude = null, string? from = null) => TransitionSql.Build(
        $"""
        UPDATE jobs j SET status = 'cancelled', finished_at = now(), lease_owner = NULL, progress_percent = NULL, not_before = NULL,
          cancel_requested_at = COALESCE(j.cancel_requested_at, now()), cancel_reason = COALESCE(j.cancel_reason, @reason),
          cancel_by = COALESCE(j.cancel_by, @by), last_event_seq = j.last_event_seq + 1, updated_at = now()
        {(from is null ? "" : "FROM " + from)}
        WHERE {guard}
        RETURNING j.id, j.stage, j.attempt_count, j.last_event_seq, j.request, j.cancel_reason, j.cancel_by, ({where})::text AS stopped_where
        """,
        TransitionSql.Events.PerRow("'cancelled'",
            "jsonb_strip_nulls(jsonb_build_object('reason', t.cancel_reason, 'by', t.cancel_by, 'where', t.stopped_where))"),
        "SELECT t.id, t.stage, t.stopped_where FROM t",
        prelude);
}
