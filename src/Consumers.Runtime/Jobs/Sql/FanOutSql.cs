using Consumers.Contracts;

namespace Consumers.Runtime.Jobs.Sql;

/// <summary>
/// The statements of a fanned-out transcode (<c>parallel</c>): its attempt hands ranges of segments to segment jobs
/// and waits, uncharged, without a lease; the last segment job to finish dispatches it again. Like pipeline steps, the
/// dispatch is written in the transaction that records that last outcome, after a lock on the parent's row
/// (<see cref="LockParentOfJob"/>) so that of two segment jobs finishing at once the later one sees the other; the
/// sweep's <see cref="ReleaseStalled"/> catches a release that a path without it missed. Every change is built by
/// <see cref="TransitionSql"/>.
/// </summary>
internal static class FanOutSql
{
    private const string Finished = "('succeeded', 'failed', 'cancelled')";

    /// <summary>No segment job of parent <c>p</c> is still to run.</summary>
    private const string AllSegmentJobsFinished =
        $"NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent_job_id = p.id AND c.status NOT IN {Finished})";

    /// <summary>
    /// The attempt (@id, @token) gives its lease back and waits for its segment jobs (events bound: <c>waiting</c>),
    /// uncharged; not while a cancel is pending (the cancel ends it instead).
    /// </summary>
    public static readonly string Wait = TransitionSql.Build(
        $"""
        UPDATE jobs SET status = '{JobStatuses.Waiting}', not_before = NULL, dispatched = false, dispatched_at = NULL, lease_owner = NULL,
          progress_percent = NULL, uncharged_attempts = uncharged_attempts + 1,
          last_event_seq = last_event_seq + {TransitionSql.BoundEventCount}, updated_at = now()
        WHERE id = @id AND lease_token = @token AND status = 'processing' AND cancel_requested_at IS NULL
        RETURNING {TransitionSql.RowColumns}
        """,
        TransitionSql.Events.Bound, "SELECT t.id FROM t");

    /// <summary>
    /// Creates the segment jobs (@segment_ids, @segment_requests as JSON text, @segment_clips) of the parent (@id, @token)
    /// that has just started waiting (in the same transaction, after <see cref="Wait"/>): queued, with the parent's stage,
    /// source, key, priority and attempt limit, each with its <c>requested</c> event and its <c>JobRequested</c>.
    /// </summary>
    public static readonly string CreateSegmentJobs = TransitionSql.Build(
        $"""
        INSERT INTO jobs (id, stage, source, output_key, clip_duration_seconds, priority, request, max_attempts, parent_job_id, status,
          attempt_count, lease_token, lease_timeout_seconds, dispatched, dispatched_at, last_event_seq, created_at, updated_at)
        SELECT x.id, p.stage, p.source, p.output_key, x.clip, p.priority, x.request::jsonb, p.max_attempts, p.id, 'queued',
          0, 0, 0, true, now(), 1, now(), now()
        FROM unnest(@segment_ids::uuid[], @segment_requests::text[], @segment_clips::float8[]) AS x(id, request, clip)
        JOIN jobs p ON p.id = @id AND p.lease_token = @token AND p.status = '{JobStatuses.Waiting}'
        ON CONFLICT (id) DO NOTHING
        RETURNING {TransitionSql.RowColumns}
        """,
        TransitionSql.Events.PerRow($"'{TimelineEventTypes.Requested}'",
            "jsonb_build_object('stage', t.stage, 'outputKey', t.request ->> 'outputKey', 'segmentOf', t.request -> 'parameters' ->> 'segmentOf')"),
        "SELECT count(*) AS created FROM t",
        dispatchWhen: "true");

    /// <summary>Locks the waiting parent of job @id, if it is a segment job: the outcomes of one parent's segment jobs take turns.</summary>
    public const string LockParentOfJob =
        $"SELECT 1 FROM jobs WHERE id = (SELECT parent_job_id FROM jobs WHERE id = @id) AND status = '{JobStatuses.Waiting}' FOR UPDATE";

    /// <summary>
    /// Dispatches the waiting parent of job @id again (queued, <c>JobRequested</c> to @job_queue) once none of its segment
    /// jobs is left to run; run right after a segment job's final write, in its transaction. No event: the parent's next
    /// <c>started</c> says it. Returns <c>id</c> when it released.
    /// </summary>
    public static readonly string ReleaseParentOfJob = TransitionSql.Build(
        $"""
        UPDATE jobs p SET status = 'queued', dispatched = true, dispatched_at = now(), updated_at = now()
        WHERE p.id = (SELECT parent_job_id FROM jobs WHERE id = @id) AND p.status = '{JobStatuses.Waiting}' AND {AllSegmentJobsFinished}
        RETURNING p.id, p.stage, p.attempt_count, p.last_event_seq, p.request
        """,
        TransitionSql.Events.None, "SELECT t.id FROM t", dispatchWhen: "true");

    /// <summary>
    /// The sweep's part: up to @batch waiting jobs whose segment jobs have all finished (one ended on a path that does not
    /// release, such as the stale-lease sweep failing it, or an operator's cancel) are dispatched again. Returns <c>id</c>.
    /// </summary>
    public static readonly string ReleaseStalled = TransitionSql.Build(
        "UPDATE jobs j SET status = 'queued', dispatched = true, dispatched_at = now(), updated_at = now() FROM w WHERE j.id = w.id " +
        "RETURNING j.id, j.stage, j.attempt_count, j.last_event_seq, j.request",
        TransitionSql.Events.None,
        "SELECT t.id FROM t",
        prelude: $"w AS (SELECT p.id FROM jobs p WHERE p.status = '{JobStatuses.Waiting}' AND {AllSegmentJobsFinished} " +
                 "ORDER BY p.updated_at LIMIT @batch FOR UPDATE SKIP LOCKED)",
        dispatchWhen: "true");
}
