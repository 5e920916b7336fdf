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

    /// <summary>The lease fields an acquire returns, the job's pipeline (null: not a step) and its fanned-out parent (null: not a segment job).</summary>
    private const string AcquireReturning = Returning + ", pipeline_id, parent_job_id";

    /// <summary>
    /// The acquire's events: the caller binds <c>requested</c> then <c>started</c> (attempt null: the row's); a new row
    /// (<c>t.is_new</c>) gets both, a queued row only <c>started</c>, whose sequence number is then its <c>last_event_seq</c>.
    /// </summary>
    private static readonly TransitionSql.Events AcquireEvents = new(
        " CROSS JOIN LATERAL (SELECT * FROM unnest(@event_types::text[], @event_data::text[], @event_attempts::int[]) WITH ORDINALITY"
        + " AS u(type, data, attempt, ord) WHERE t.is_new OR u.ord > 1) AS v",
        TransitionSql.BoundEventCount);

    /// <summary>
    /// The acquire, in one statement: a new id is created already running (events <c>requested</c>, <c>started</c>), a due
    /// queued row moves to <c>processing</c> (event <c>started</c>); a suspect (an earlier attempt died with its worker)
    /// only when the caller runs it alone (@runs_alone), a row with a pending cancel never. Both parts see the same
    /// snapshot, so at most one of them changes a row. Returns one row: <c>won</c> with the lease fields,
    /// <c>pipeline_id</c> and <c>parent_job_id</c>, or, when nothing was won, the row as this statement found it (<c>status, not_due, suspect,
    /// cancel_pending</c>); no row when the job was created by a transaction that committed after this statement's
    /// snapshot was taken (the caller then reads <see cref="AcquireState"/>).
    /// </summary>
    public static readonly string Acquire = TransitionSql.Build(
        "SELECT * FROM acquired_new UNION ALL SELECT * FROM acquired_queued",
        AcquireEvents,
        """
        SELECT true AS won, t.id, t.stage, t.attempt_count, t.lease_token, t.max_attempts, t.lease_timeout_seconds, t.uncharged_attempts,
          t.pipeline_id, t.parent_job_id, t.status, false AS not_due, false AS suspect, false AS cancel_pending FROM t
        UNION ALL
        SELECT false, j.id, j.stage, j.attempt_count, j.lease_token, j.max_attempts, j.lease_timeout_seconds, j.uncharged_attempts,
          j.pipeline_id, j.parent_job_id, j.status, COALESCE(j.not_before > now(), false), j.lease_expiry_count > 0, j.cancel_requested_at IS NOT NULL
        FROM jobs j WHERE j.id = @id AND NOT EXISTS (SELECT 1 FROM t)
        """,
        prelude:
        $"""
        acquired_new AS (INSERT INTO jobs ({RequestColumns}, status, attempt_count, lease_token, lease_owner, lease_timeout_seconds,
          processing_started_at, last_heartbeat_at, processing_deadline_at, dispatched, dispatched_at, last_event_seq, created_at, updated_at)
          VALUES ({RequestValues}, 'processing', 1, 1, @owner, @lease_seconds,
            now(), now(), now() + make_interval(secs => @deadline_seconds), true, now(), {TransitionSql.BoundEventCount}, now(), now())
          ON CONFLICT (id) DO NOTHING{AcquireReturning}, true AS is_new),
        acquired_queued AS (UPDATE jobs SET status = 'processing', attempt_count = attempt_count + 1, lease_token = lease_token + 1,
            lease_owner = @owner, lease_timeout_seconds = @lease_seconds, processing_started_at = now(), last_heartbeat_at = now(),
            processing_deadline_at = now() + make_interval(secs => @deadline_seconds), not_before = NULL, progress_percent = NULL,
            last_event_seq = last_event_seq + 1, updated_at = now()
          WHERE id = @id AND status = 'queued' AND cancel_requested_at IS NULL AND (not_before IS NULL OR not_before <= now())
            AND (lease_expiry_count = 0 OR @runs_alone){AcquireReturning}, false AS is_new)
        """);

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

    /// <summary>
    /// Several attempts succeed in one statement, each row fenced by its own token (a row whose lease is gone is left
    /// alone and the others still land). Per job, in the same order: @ids, @tokens, @artifact_keys, @artifact_sizes,
    /// @artifact_sha256s, @results (JSON text or null), @trace_parents and @event_counts; the events of all of them
    /// flattened in order as @event_job_ids, @event_types, @event_data (JSON text), @event_attempts (null: the row's
    /// attempt) and @event_ords (1, 2, ... within each job). Returns the ids written.
    /// </summary>
    public static readonly string SucceedMany = TransitionSql.Build(
        """
        UPDATE jobs SET status = 'succeeded', finished_at = now(), progress_percent = 100, artifact_key = s.artifact_key,
          artifact_size = s.artifact_size, artifact_sha256 = s.artifact_sha256, result = s.result::jsonb, last_error_code = NULL,
          last_error_message = NULL, lease_owner = NULL, last_event_seq = jobs.last_event_seq + s.event_count, updated_at = now()
        FROM unnest(@ids::uuid[], @tokens::bigint[], @artifact_keys::text[], @artifact_sizes::bigint[], @artifact_sha256s::text[],
            @results::text[], @trace_parents::text[], @event_counts::int[])
          AS s(id, token, artifact_key, artifact_size, artifact_sha256, result, trace_parent, event_count)
        WHERE jobs.id = s.id AND jobs.lease_token = s.token AND jobs.status = 'processing'
        RETURNING jobs.id, jobs.stage, jobs.attempt_count, jobs.last_event_seq, jobs.request, s.event_count, s.trace_parent
        """,
        new TransitionSql.Events(
            " CROSS JOIN LATERAL (SELECT u.type, u.data, u.attempt, u.ord FROM unnest(@event_job_ids::uuid[], @event_types::text[],"
            + " @event_data::text[], @event_attempts::int[], @event_ords::bigint[]) AS u(job_id, type, data, attempt, ord) WHERE u.job_id = t.id) AS v",
            "t.event_count"),
        "SELECT t.id FROM t",
        traceParent: "t.trace_parent");

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
