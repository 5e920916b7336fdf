namespace Consumers.Runtime.Jobs.Sql;

/// <summary>
/// The statements of an attempt's life (submit, acquire, progress, outcome) and the worker's reads of job rows.
/// Each state change is one statement built by <see cref="TransitionSql"/>; the caller binds its events
/// (<see cref="TransitionSql.Events.Bound"/>) and @trace_parent. Results are read by the column names given here.
/// </summary>
internal static class JobSql
{
    /// <summary>What a state change on the worker path returns: the lease fields (<see cref="JobStore"/> reads them by name).</summary>
    private const string Returning =
        " RETURNING " + TransitionSql.RowColumns + ", lease_token, max_attempts, lease_timeout_seconds, status, uncharged_attempts";

    private const string SelectLease = "SELECT t.id, t.stage, t.attempt_count, t.lease_token, t.max_attempts, t.lease_timeout_seconds, t.uncharged_attempts FROM t";

    private const string RequestColumns = "id, stage, source, output_key, clip_duration_seconds, priority, request, max_attempts";
    private const string RequestValues = "@id, @stage, @source, @output_key, @clip, @priority, @request::jsonb, @max_attempts";

    /// <summary>The attempt's own row, still running under its token.</summary>
    private const string ProcessingGuard = " WHERE id = @id AND lease_token = @token AND status = 'processing'";

    /// <summary>Registers a queued job with its <c>requested</c> event and its <c>JobRequested</c>; nothing when the id exists.</summary>
    public static readonly string Submit = TransitionSql.Build(
        $"""
        INSERT INTO jobs ({RequestColumns}, status, attempt_count, lease_token, lease_timeout_seconds, dispatched, dispatched_at,
          last_event_seq, created_at, updated_at)
        VALUES ({RequestValues}, 'queued', 0, 0, 0, true, now(), {TransitionSql.BoundEventCount}, now(), now())
        ON CONFLICT (id) DO NOTHING{Returning}
        """,
        TransitionSql.Events.Bound, SelectLease, dispatchWhen: "true");

    /// <summary>Acquire of a new id: the row is created already running (events <c>requested</c>, <c>started</c>).</summary>
    public static readonly string AcquireNew = TransitionSql.Build(
        $"""
        INSERT INTO jobs ({RequestColumns}, status, attempt_count, lease_token, lease_owner, lease_timeout_seconds,
          processing_started_at, last_heartbeat_at, processing_deadline_at, dispatched, dispatched_at, last_event_seq, created_at, updated_at)
        VALUES ({RequestValues}, 'processing', 1, 1, @owner, @lease_seconds,
          now(), now(), now() + make_interval(secs => @deadline_seconds), true, now(), {TransitionSql.BoundEventCount}, now(), now())
        ON CONFLICT (id) DO NOTHING{Returning}
        """,
        TransitionSql.Events.Bound, SelectLease);

    /// <summary>
    /// Acquire of a due queued row (event <c>started</c>); a suspect (an earlier attempt died with its worker) only
    /// when the caller runs it alone (@runs_alone), a row with a pending cancel never.
    /// </summary>
    public static readonly string AcquireQueued = TransitionSql.Build(
        $"""
        UPDATE jobs SET status = 'processing', attempt_count = attempt_count + 1, lease_token = lease_token + 1,
          lease_owner = @owner, lease_timeout_seconds = @lease_seconds, processing_started_at = now(), last_heartbeat_at = now(),
          processing_deadline_at = now() + make_interval(secs => @deadline_seconds), not_before = NULL, progress_percent = NULL,
          last_event_seq = last_event_seq + {TransitionSql.BoundEventCount}, updated_at = now()
        WHERE id = @id AND status = 'queued' AND cancel_requested_at IS NULL AND (not_before IS NULL OR not_before <= now())
          AND (lease_expiry_count = 0 OR @runs_alone){Returning}
        """,
        TransitionSql.Events.Bound, SelectLease);

    /// <summary>What an acquire that won nothing reports: the row's status, whether it waits for a retry, whether it is a suspect.</summary>
    public const string AcquireState =
        "SELECT status, COALESCE(not_before > now(), false) AS not_due, lease_expiry_count > 0 AS suspect FROM jobs WHERE id = @id";

    /// <summary>A request the database cannot store as it came: the row is written already failed (events <c>requested</c>, <c>failed</c>).</summary>
    public static readonly string Reject = TransitionSql.Build(
        $"""
        INSERT INTO jobs ({RequestColumns}, status, attempt_count, lease_token, lease_timeout_seconds, dispatched, dispatched_at,
          last_error_code, last_error_message, last_event_seq, finished_at, created_at, updated_at)
        VALUES ({RequestValues}, 'failed', 0, 0, 0, true, now(), @code, @message, {TransitionSql.BoundEventCount}, now(), now(), now())
        ON CONFLICT (id) DO NOTHING{Returning}
        """,
        TransitionSql.Events.Bound, SelectLease);

    /// <summary>A suspect handed back: undispatched, so the sweep sends it again. No event: nothing happened to the job.</summary>
    public const string DeferDispatch =
        "UPDATE jobs SET dispatched = false, dispatched_at = NULL, updated_at = now() WHERE id = @id AND status = 'queued'";

    /// <summary>Whether the attempt still holds its lease.</summary>
    public const string LeaseHeld = "SELECT 1 FROM jobs" + ProcessingGuard;

    /// <summary>Whether the attempt already wrote this event (same type, attempt and data).</summary>
    public const string HasWritten =
        "SELECT EXISTS (SELECT 1 FROM job_events WHERE job_id = @id AND attempt = @attempt AND type = @type AND data @> @data::jsonb)";

    /// <summary>A <c>progress</c> event and the stored percent.</summary>
    public static readonly string Progress = Fenced("progress_percent = @percent");

    /// <summary>The attempt succeeded with its artifact and the stage's @result (events end with <c>completed</c> or <c>skipped</c>).</summary>
    public static readonly string Succeed = Fenced(
        """
        status = 'succeeded', finished_at = now(), progress_percent = 100, artifact_key = @artifact_key, artifact_size = @artifact_size,
          artifact_sha256 = @artifact_sha256, result = @result::jsonb, last_error_code = NULL, last_error_message = NULL, lease_owner = NULL
        """);

    /// <summary>The job failed with its code.</summary>
    public static readonly string Fail = Fenced(
        "status = 'failed', finished_at = now(), last_error_code = @code, last_error_message = @message, lease_owner = NULL");

    /// <summary>Back to <c>queued</c> until @not_before, undispatched (the sweep sends it when due); @charge false gives the attempt back.</summary>
    public static readonly string ScheduleRetry = Fenced(
        """
        status = 'queued', not_before = @not_before, dispatched = false, dispatched_at = NULL,
          last_error_code = @code, last_error_message = @message, lease_owner = NULL, progress_percent = NULL,
          uncharged_attempts = uncharged_attempts + CASE WHEN @charge THEN 0 ELSE 1 END
        """);

    /// <summary>Back to <c>queued</c> at once with a fresh <c>JobRequested</c>; @charge false gives the attempt back.</summary>
    public static readonly string Requeue = Fenced(
        """
        status = 'queued', not_before = NULL, dispatched = true, dispatched_at = now(), lease_owner = NULL, progress_percent = NULL,
          uncharged_attempts = uncharged_attempts + CASE WHEN @charge THEN 0 ELSE 1 END
        """,
        dispatchRequest: true);

    /// <summary>
    /// One beat for every active lease (arrays @ids, @tokens, @progress): the rows still held, and whether an operator
    /// asked to cancel each.
    /// </summary>
    public const string Heartbeat =
        """
        UPDATE jobs SET last_heartbeat_at = now(), progress_percent = COALESCE(v.progress, jobs.progress_percent)
        FROM unnest(@ids, @tokens, @progress) AS v(id, token, progress)
        WHERE jobs.id = v.id AND jobs.lease_token = v.token AND jobs.status = 'processing'
        RETURNING jobs.id, jobs.cancel_requested_at IS NOT NULL AS cancel_requested
        """;

    /// <summary>The status and attempt count of the jobs @ids (the scratch janitor's view of its folders).</summary>
    public const string AttemptStates = "SELECT id, status, attempt_count FROM jobs WHERE id = ANY(@ids)";

    private static string Fenced(string set, bool dispatchRequest = false) => TransitionSql.Build(
        $"UPDATE jobs SET {set}, last_event_seq = last_event_seq + {TransitionSql.BoundEventCount}, updated_at = now()" + ProcessingGuard + Returning,
        TransitionSql.Events.Bound, "SELECT t.id FROM t", dispatchWhen: dispatchRequest ? "true" : null);
}
