using Consumers.Contracts;

namespace Consumers.Runtime.Jobs.Sql;

/// <summary>
/// The statements of pipelines: submit, reject, advance, cancel and the sweep's read. A step's job is created (row,
/// <c>requested</c> event, <c>JobRequested</c> in the outbox) by <see cref="TransitionSql.Build"/> like every other job
/// change; the pipeline's own timeline (<c>pipeline_events</c>) gets its envelope and outbox rows here, in one way only.
/// <see cref="Advance"/> runs in the same transaction as every final write of a step's job, after <see cref="LockOfJob"/>:
/// the pipeline row's lock serializes the steps' outcomes, so the last dependency to succeed always sees the others.
/// </summary>
internal static class PipelineSql
{
    /// <summary>The JSON path of a request's clip duration.</summary>
    private const string ClipPath = "'{clipDurationSeconds}'";

    /// <summary>The message every pipeline event is published as (<c>PipelineTimelineEvent</c>, schema version 1).</summary>
    private const string Envelope =
        """
        jsonb_strip_nulls(jsonb_build_object('schemaVersion', 1, 'pipelineId', pe.pipeline_id, 'sequence', pe.seq, 'type', pe.type,
          'step', pe.step, 'jobId', pe.job_id, 'occurredAt', pe.occurred_at, 'data', pe.data - 'artifacts', 'artifacts', pe.data -> 'artifacts'))
        """;

    /// <summary>Inserts the events of CTE <paramref name="source"/> (<c>pipeline_id, seq, type, step, job_id, data</c>) and their outbox rows.</summary>
    private static string Events(string source, string name) =>
        $"""
        {name} AS (INSERT INTO pipeline_events (pipeline_id, seq, type, step, job_id, occurred_at, data)
          SELECT pipeline_id, seq, type, step, job_id, now(), data FROM {source}
          RETURNING pipeline_id, seq, type, step, job_id, occurred_at, data),
        {name}_out AS (INSERT INTO outbox_messages (message_id, job_id, message_type, body, trace_parent)
          SELECT gen_random_uuid(), pe.pipeline_id, '{nameof(PipelineTimelineEvent)}', {Envelope}, @trace_parent FROM {name} pe ORDER BY pe.seq
          RETURNING 1)
        """;

    /// <summary>
    /// Registers a valid pipeline @pipeline_id (@source, @request, @steps: a JSON array of <c>name, stage, jobId,
    /// dependsOn, ancestors, request, maxAttempts</c>) with its <c>pipeline_started</c> event; nothing when the id exists.
    /// Returns <c>created</c>. <see cref="Advance"/> in the same transaction dispatches the first steps.
    /// </summary>
    public static readonly string Submit =
        $"""
        WITH p AS (INSERT INTO pipelines (id, status, source, request, step_count, last_event_seq, created_at, updated_at)
          VALUES (@pipeline_id, 'running', @source, @request::jsonb, jsonb_array_length(@steps::jsonb), 1, now(), now())
          ON CONFLICT (id) DO NOTHING RETURNING id, step_count),
        st AS (INSERT INTO pipeline_steps (pipeline_id, name, ord, stage, job_id, depends_on, ancestors, request, max_attempts, state, created_at, updated_at)
          SELECT p.id, x.step ->> 'name', x.ord, x.step ->> 'stage', (x.step ->> 'jobId')::uuid,
            ARRAY(SELECT jsonb_array_elements_text(x.step -> 'dependsOn')), ARRAY(SELECT jsonb_array_elements_text(x.step -> 'ancestors')),
            x.step -> 'request', (x.step ->> 'maxAttempts')::int, 'waiting', now(), now()
          FROM p CROSS JOIN jsonb_array_elements(@steps::jsonb) WITH ORDINALITY AS x(step, ord)
          RETURNING 1),
        ev AS (SELECT p.id AS pipeline_id, 1::bigint AS seq, '{PipelineEventTypes.PipelineStarted}'::text AS type, NULL::text AS step, NULL::uuid AS job_id,
          jsonb_build_object('steps', p.step_count::text, 'source', @source::text) AS data FROM p),
        {Events("ev", "pe")}
        SELECT (SELECT count(*) FROM p) > 0 AS created
        """;

    /// <summary>
    /// Records an invalid pipeline @pipeline_id as <c>failed</c> at once (@code, @message, @step, @field), with its
    /// <c>pipeline_started</c> and <c>pipeline_failed</c> events; no step runs. Nothing when the id exists. Returns <c>created</c>.
    /// </summary>
    public static readonly string Reject =
        $"""
        WITH p AS (INSERT INTO pipelines (id, status, source, request, step_count, failed_step, error_code, error_message, last_event_seq,
            created_at, updated_at, finished_at)
          VALUES (@pipeline_id, 'failed', @source, @request::jsonb, 0, @step, @code, @message, 2, now(), now(), now())
          ON CONFLICT (id) DO NOTHING RETURNING id),
        ev AS (SELECT p.id AS pipeline_id, 1::bigint AS seq, '{PipelineEventTypes.PipelineStarted}'::text AS type, NULL::text AS step, NULL::uuid AS job_id,
            jsonb_build_object('steps', '0', 'source', @source::text) AS data FROM p
          UNION ALL SELECT p.id, 2, '{PipelineEventTypes.PipelineFailed}', NULL, NULL,
            jsonb_strip_nulls(jsonb_build_object('code', @code::text, 'message', @message::text, 'step', @step::text, 'field', @field::text)) FROM p),
        {Events("ev", "pe")}
        SELECT (SELECT count(*) FROM p) > 0 AS created
        """;

    /// <summary>Locks the pipeline of job @id, if it is a running step: outcomes of one pipeline's steps take turns.</summary>
    public const string LockOfJob =
        "SELECT 1 FROM pipelines WHERE id = (SELECT pipeline_id FROM jobs WHERE id = @id) AND status = 'running' FOR UPDATE";

    /// <summary>Locks the running pipeline @pipeline_id.</summary>
    public const string Lock = "SELECT 1 FROM pipelines WHERE id = @pipeline_id AND status = 'running' FOR UPDATE";

    /// <summary>Advances the pipeline of job @id (run right after that job's final write, in its transaction).</summary>
    public static readonly string AdvanceOfJob = AdvanceFor("(SELECT pipeline_id FROM jobs WHERE id = @id)");

    /// <summary>Advances the pipeline @pipeline_id (submit, cancel, the sweep).</summary>
    public static readonly string Advance = AdvanceFor("@pipeline_id");

    /// <summary>
    /// Running pipelines the sweep should advance, up to @batch: a step whose job ended but whose pipeline did not
    /// record it (the job ended on a path that does not advance, such as the stale-lease sweep), or no step running at all.
    /// </summary>
    public const string Stalled =
        """
        SELECT p.id FROM pipelines p WHERE p.status = 'running' AND (
          EXISTS (SELECT 1 FROM pipeline_steps s JOIN jobs j ON j.id = s.job_id
                  WHERE s.pipeline_id = p.id AND s.state = 'dispatched' AND j.status IN ('succeeded', 'failed', 'cancelled'))
          OR NOT EXISTS (SELECT 1 FROM pipeline_steps s WHERE s.pipeline_id = p.id AND s.state = 'dispatched'))
        ORDER BY p.created_at LIMIT @batch
        """;

    /// <summary>
    /// Asks to cancel the running pipeline @pipeline_id (@reason, @by): its waiting steps are cancelled by the next
    /// <see cref="Advance"/>. Returns the pipeline's <c>status</c> and the <c>job_id</c>s of its dispatched steps (to cancel
    /// through the jobs' own cancel); no row: no such pipeline.
    /// </summary>
    public const string RequestCancel =
        """
        WITH p AS (UPDATE pipelines SET cancel_requested_at = COALESCE(cancel_requested_at, now()), cancel_reason = COALESCE(cancel_reason, @reason),
            cancel_by = COALESCE(cancel_by, @by), updated_at = now()
          WHERE id = @pipeline_id AND status = 'running' RETURNING id)
        SELECT pl.status, ARRAY(SELECT s.job_id FROM pipeline_steps s WHERE s.pipeline_id = pl.id AND s.state = 'dispatched') AS job_ids
        FROM pipelines pl WHERE pl.id = @pipeline_id
        """;

    /// <summary>
    /// One statement that brings a running pipeline up to date with its steps' jobs, under the pipeline's lock:
    /// <list type="number">
    /// <item>a dispatched step whose job ended takes the job's status (<c>step_succeeded</c>, <c>step_failed</c>, <c>step_cancelled</c>);</item>
    /// <item>a waiting step with a failed or cancelled step among its ancestors is skipped, naming it (<c>step_skipped</c>); after a
    ///   cancel request every waiting step is cancelled;</item>
    /// <item>a waiting step whose dependencies all succeeded gets its job (row, <c>requested</c>, <c>JobRequested</c>, built by
    ///   <see cref="TransitionSql"/>), its clip duration taken from an earlier step's result when the request gave none (<c>step_dispatched</c>);</item>
    /// <item>when every step has ended, the pipeline ends: <c>pipeline_completed</c> (every artifact), <c>pipeline_failed</c> (the
    ///   first failed step by request order and its code) or <c>pipeline_cancelled</c>.</item>
    /// </list>
    /// Idempotent: with nothing to do it writes nothing. Returns <c>dispatched</c> (jobs created).
    /// </summary>
    private static string AdvanceFor(string pipelineId) => TransitionSql.Build(
        """
        INSERT INTO jobs (id, stage, source, output_key, clip_duration_seconds, request, max_attempts, pipeline_id, status, attempt_count,
          lease_token, lease_timeout_seconds, dispatched, dispatched_at, last_event_seq, created_at, updated_at)
        SELECT r.job_id, r.stage, r.req ->> 'source', r.req ->> 'outputKey', (r.req ->> 'clipDurationSeconds')::float8, r.req, r.max_attempts,
          r.pipeline_id, 'queued', 0, 0, 0, true, now(), 1, now(), now()
        FROM ready r
        ON CONFLICT (id) DO NOTHING RETURNING
        """ + " " + TransitionSql.RowColumns,
        TransitionSql.Events.PerRow($"'{TimelineEventTypes.Requested}'", "jsonb_build_object('stage', t.stage, 'outputKey', t.request ->> 'outputKey')"),
        "SELECT count(*) AS dispatched FROM t",
        prelude: $"""
            p AS (SELECT id, last_event_seq, cancel_requested_at, cancel_reason, cancel_by FROM pipelines WHERE id = {pipelineId} AND status = 'running'),
            s AS (SELECT st.pipeline_id, st.name, st.ord, st.stage, st.job_id, st.depends_on, st.ancestors, st.request, st.max_attempts, st.state,
                CASE WHEN st.state = 'dispatched' AND j.status IN ('succeeded', 'failed', 'cancelled') THEN j.status ELSE st.state END AS now_state,
                j.result, j.last_error_code, j.last_error_message, j.artifact_key, j.artifact_size, j.artifact_sha256
              FROM pipeline_steps st JOIN p ON p.id = st.pipeline_id LEFT JOIN jobs j ON j.id = st.job_id AND st.state <> 'waiting'),
            doomed AS (SELECT w.name,
                (SELECT b.name FROM s b WHERE b.now_state IN ('failed', 'cancelled') AND b.name = ANY(w.ancestors) ORDER BY b.ord LIMIT 1) AS cause
              FROM s w WHERE w.state = 'waiting'
                AND EXISTS (SELECT 1 FROM s b WHERE b.now_state IN ('failed', 'cancelled') AND b.name = ANY(w.ancestors))),
            ready AS (SELECT w.pipeline_id, w.name, w.ord, w.stage, w.job_id, w.max_attempts,
                CASE WHEN jsonb_typeof(w.request -> 'clipDurationSeconds') IS DISTINCT FROM 'number' AND c.seconds IS NOT NULL
                  THEN jsonb_set(w.request, {ClipPath}, to_jsonb(c.seconds)) ELSE w.request END AS req,
                CASE WHEN jsonb_typeof(w.request -> 'clipDurationSeconds') = 'number' THEN 'request'
                  WHEN c.seconds IS NOT NULL THEN c.step END AS clip_from
              FROM s w JOIN p ON true
              LEFT JOIN LATERAL (SELECT a.name AS step, (a.result ->> 'durationSeconds')::float8 AS seconds FROM s a
                WHERE a.name = ANY(w.ancestors) AND a.now_state = 'succeeded' AND jsonb_typeof(a.result -> 'durationSeconds') = 'number'
                ORDER BY a.ord LIMIT 1) c ON true
              WHERE w.state = 'waiting' AND p.cancel_requested_at IS NULL AND NOT EXISTS (SELECT 1 FROM doomed d WHERE d.name = w.name)
                AND NOT EXISTS (SELECT 1 FROM s d WHERE d.name = ANY(w.depends_on) AND d.now_state <> 'succeeded')),
            changes AS (
              SELECT s.name, s.now_state AS state, 1 AS kind, NULL::text AS cause FROM s WHERE s.state = 'dispatched' AND s.now_state <> 'dispatched'
              UNION ALL SELECT s.name, 'cancelled', 2, NULL FROM s JOIN p ON p.cancel_requested_at IS NOT NULL WHERE s.state = 'waiting'
              UNION ALL SELECT d.name, 'skipped', 2, d.cause FROM doomed d JOIN p ON p.cancel_requested_at IS NULL
              UNION ALL SELECT r.name, 'dispatched', 3, NULL FROM ready r),
            step_update AS (UPDATE pipeline_steps ps SET state = c.state, updated_at = now(),
                reason = CASE WHEN c.cause IS NOT NULL THEN 'step ' || c.cause || ' did not succeed' ELSE ps.reason END
              FROM changes c, p WHERE ps.pipeline_id = p.id AND ps.name = c.name RETURNING 1),
            settled AS (SELECT s.name, s.ord, s.job_id, COALESCE(c.state, s.state) AS state, s.last_error_code, s.last_error_message,
                s.artifact_key, s.artifact_size, s.artifact_sha256
              FROM s LEFT JOIN changes c ON c.name = s.name),
            ending AS (SELECT CASE WHEN bool_and(a.state = 'succeeded') THEN 'succeeded' WHEN p.cancel_requested_at IS NOT NULL THEN 'cancelled'
                  ELSE 'failed' END AS status,
                (SELECT f.name FROM settled f WHERE f.state IN ('failed', 'cancelled') ORDER BY f.ord LIMIT 1) AS failed_step,
                p.cancel_reason, p.cancel_by
              FROM settled a JOIN p ON true GROUP BY p.cancel_requested_at, p.cancel_reason, p.cancel_by
              HAVING bool_and(a.state IN ('succeeded', 'failed', 'cancelled', 'skipped'))),
            ev AS (
              SELECT c.kind, s.ord, 'step_' || CASE c.state WHEN 'skipped' THEN 'skipped' WHEN 'dispatched' THEN 'dispatched' ELSE c.state END AS type,
                s.name AS step, CASE WHEN c.state = 'skipped' OR (c.state = 'cancelled' AND s.state = 'waiting') THEN NULL ELSE s.job_id END AS job_id,
                jsonb_strip_nulls(CASE c.state
                  WHEN 'dispatched' THEN jsonb_build_object('stage', s.stage, 'clipDurationSeconds', r.req ->> 'clipDurationSeconds', 'clipFrom', r.clip_from)
                  WHEN 'succeeded' THEN jsonb_build_object('artifactKey', s.artifact_key, 'size', s.artifact_size::text, 'sha256', s.artifact_sha256,
                    'durationSeconds', s.result ->> 'durationSeconds')
                  WHEN 'failed' THEN jsonb_build_object('code', s.last_error_code, 'message', s.last_error_message)
                  WHEN 'skipped' THEN jsonb_build_object('cause', c.cause, 'reason', 'step ' || c.cause || ' did not succeed')
                  ELSE jsonb_build_object('where', CASE WHEN s.state = 'waiting' THEN 'waiting' ELSE 'job' END) END) AS data
              FROM changes c JOIN s ON s.name = c.name LEFT JOIN ready r ON r.name = c.name
              UNION ALL
              SELECT 4, 0, CASE e.status WHEN 'succeeded' THEN '{PipelineEventTypes.PipelineCompleted}' WHEN 'cancelled' THEN '{PipelineEventTypes.PipelineCancelled}'
                  ELSE '{PipelineEventTypes.PipelineFailed}' END,
                NULL, NULL,
                jsonb_strip_nulls(CASE e.status
                  WHEN 'succeeded' THEN jsonb_build_object('artifacts', (SELECT jsonb_agg(jsonb_build_object('step', a.name, 'key', a.artifact_key,
                    'size', a.artifact_size, 'sha256', a.artifact_sha256) ORDER BY a.ord) FROM settled a))
                  WHEN 'cancelled' THEN jsonb_build_object('reason', e.cancel_reason, 'by', e.cancel_by)
                  ELSE jsonb_build_object('step', e.failed_step, 'code', (SELECT COALESCE(f.last_error_code, '{ErrorCodes.Cancelled}') FROM settled f WHERE f.name = e.failed_step),
                    'message', (SELECT f.last_error_message FROM settled f WHERE f.name = e.failed_step)) END)
              FROM ending e),
            numbered AS (SELECT p.id AS pipeline_id, p.last_event_seq + row_number() OVER (ORDER BY ev.kind, ev.ord) AS seq, ev.type, ev.step, ev.job_id, ev.data
              FROM ev CROSS JOIN p),
            {Events("numbered", "pe")},
            pipeline_update AS (UPDATE pipelines pl SET last_event_seq = pl.last_event_seq + (SELECT count(*) FROM ev), updated_at = now(),
                status = COALESCE((SELECT e.status FROM ending e), pl.status),
                failed_step = COALESCE((SELECT e.failed_step FROM ending e), pl.failed_step),
                error_code = COALESCE((SELECT f.last_error_code FROM ending e JOIN settled f ON f.name = e.failed_step), pl.error_code),
                finished_at = CASE WHEN EXISTS (SELECT 1 FROM ending) THEN now() ELSE pl.finished_at END
              FROM p WHERE pl.id = p.id AND EXISTS (SELECT 1 FROM ev) RETURNING 1)
            """,
        dispatchWhen: "true");
}
