namespace Consumers.Runtime.Jobs;

/// <summary>
/// Builds the statement that ends jobs as <c>cancelled</c>: the row (status, finish time, the cancel request kept on
/// it), a <c>cancelled</c> event with the next sequence number whose data come from the row (<c>reason</c>, <c>by</c>)
/// and say <c>where</c> the job was stopped, and its outbox message. One statement, so like every transition it is
/// written whole or not at all, and nothing is written when the guard does not match.
/// </summary>
internal static class CancelSql
{
    /// <param name="guard">The condition on <c>jobs j</c> (with <paramref name="from"/>'s tables) the rows must meet.</param>
    /// <param name="where">SQL text for the <c>where</c> field: a literal such as <c>'queued'</c> or a column of <paramref name="from"/>.</param>
    /// <param name="prelude">Common table expressions that come first (for example candidates locked with SKIP LOCKED), or null.</param>
    /// <param name="from">A FROM list for the update, or null.</param>
    /// <remarks>Binds @reason and @by (used only when the row has no request yet) and @trace_parent.</remarks>
    public static string Build(string guard, string where, string? prelude = null, string? from = null) =>
        "WITH " + (prelude is null ? "" : prelude + ", ") +
        "t AS (UPDATE jobs j SET status = 'cancelled', finished_at = now(), lease_owner = NULL, progress_percent = NULL, not_before = NULL, " +
        "cancel_requested_at = COALESCE(j.cancel_requested_at, now()), cancel_reason = COALESCE(j.cancel_reason, @reason), " +
        "cancel_by = COALESCE(j.cancel_by, @by), last_event_seq = j.last_event_seq + 1, updated_at = now() " +
        (from is null ? "" : "FROM " + from + " ") + "WHERE " + guard + " " +
        "RETURNING j.id, j.stage, j.attempt_count, j.last_event_seq, j.cancel_reason, j.cancel_by, (" + where + ")::text AS stopped_where), " +
        "e AS (INSERT INTO job_events (job_id, seq, type, attempt, occurred_at, data) " +
        "SELECT t.id, t.last_event_seq, 'cancelled', t.attempt_count, now(), " +
        "jsonb_strip_nulls(jsonb_build_object('reason', t.cancel_reason, 'by', t.cancel_by, 'where', t.stopped_where)) FROM t " +
        "RETURNING job_id, seq, type, attempt, occurred_at, data), " +
        "o AS (INSERT INTO outbox_messages (message_id, job_id, message_type, body, trace_parent) " +
        "SELECT gen_random_uuid(), e.job_id, 'JobTimelineEvent', jsonb_build_object('schemaVersion', 1, 'jobId', e.job_id, 'sequence', e.seq, " +
        "'type', e.type, 'attempt', e.attempt, 'stage', t.stage, 'occurredAt', e.occurred_at, 'data', e.data), @trace_parent " +
        "FROM e JOIN t ON t.id = e.job_id RETURNING 1) " +
        "SELECT t.id, t.stage, t.stopped_where FROM t";
}
