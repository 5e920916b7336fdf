using System.Text;

namespace Consumers.Runtime.Jobs.Sql;

/// <summary>
/// Builds the one statement that every state change is, for one job or a set of them: change the rows, append each
/// row's timeline events with its next sequence numbers, and queue their outbox messages (plus, optionally, a fresh
/// <c>JobRequested</c>). Because the row update takes the row lock and bumps <c>last_event_seq</c> in the same
/// statement, sequence numbers are gapless and ordered by commit, and nothing is written when the guard (for example
/// the fencing token) does not match. Every statement that changes a job is built here, so the
/// <c>JobTimelineEvent</c> envelope and the outbox rows are written in exactly one way.
/// </summary>
internal static class TransitionSql
{
    /// <summary>
    /// The columns every row source returns (as <c>t</c>): what the events, the envelope and the
    /// <c>JobRequested</c> need. A source may return more for the caller's select.
    /// </summary>
    public const string RowColumns = "id, stage, attempt_count, last_event_seq, request";

    /// <summary>How many events the caller binds with <see cref="Events.Bound"/>: the arrays' length.</summary>
    public const string BoundEventCount = "cardinality(@event_types)";

    /// <summary>The message every timeline event is published as (<c>JobTimelineEvent</c>, schema version 1).</summary>
    private const string TimelineEnvelope =
        """
        jsonb_build_object('schemaVersion', 1, 'jobId', e.job_id, 'sequence', e.seq, 'type', e.type, 'attempt', e.attempt,
          'stage', t.stage, 'occurredAt', e.occurred_at, 'data', e.data)
        """;

    /// <summary>Where a transition's events come from; both give rows <c>v(type, data, attempt, ord)</c> per job.</summary>
    public sealed record Events(string From, string Count)
    {
        /// <summary>No events (a dispatch only queues the request).</summary>
        public static readonly Events None = new("", "0");

        /// <summary>
        /// The caller's events, bound as the arrays @event_types, @event_data (JSON text) and @event_attempts (null:
        /// the row's attempt), in order. The row source bumps <c>last_event_seq</c> by <see cref="BoundEventCount"/>.
        /// </summary>
        public static readonly Events Bound = new(
            " CROSS JOIN LATERAL unnest(@event_types::text[], @event_data::text[], @event_attempts::int[]) WITH ORDINALITY AS v(type, data, attempt, ord)",
            BoundEventCount);

        /// <summary>One event per row, computed from the row source's columns (<c>t.*</c>); the source bumps <c>last_event_seq</c> by 1.</summary>
        public static Events PerRow(string type, string data) =>
            new($" CROSS JOIN LATERAL (VALUES ({type}, ({data})::text, NULL::int, 1::bigint)) AS v(type, data, attempt, ord)", "1");
    }

    /// <param name="rowSource">A data-modifying statement on <c>jobs</c> returning at least <see cref="RowColumns"/>.</param>
    /// <param name="events">The events each changed row gets.</param>
    /// <param name="select">What the statement returns, read from <c>t</c> (for example <c>SELECT t.id FROM t</c>).</param>
    /// <param name="prelude">Common table expressions that come first (for example candidates locked with SKIP LOCKED), or null.</param>
    /// <param name="dispatchWhen">Also queue each row's stored request, sent straight to the job queue bound as @job_queue:
    /// null for no row, <c>true</c> for every row, or a condition on <c>t</c>.</param>
    /// <param name="traceParent">What outbox rows take as their trace: @trace_parent, or a column of <c>t</c> when the rows
    /// come from different callers' work (a batch).</param>
    /// <remarks>Outbox rows take @trace_parent (null when there is no trace), which every caller binds, unless
    /// <paramref name="traceParent"/> says otherwise.</remarks>
    public static string Build(string rowSource, Events events, string select, string? prelude = null, string? dispatchWhen = null,
        string traceParent = "@trace_parent")
    {
        var sql = new StringBuilder(1536);
        sql.Append("WITH ");
        if (prelude is not null)
        {
            sql.Append(prelude).Append(", ");
        }

        sql.Append("t AS (").Append(rowSource).Append(')');
        if (events != Events.None)
        {
            sql.Append($"""
                , e AS (INSERT INTO job_events (job_id, seq, type, attempt, occurred_at, data)
                  SELECT t.id, t.last_event_seq - {events.Count} + v.ord, v.type, COALESCE(v.attempt, t.attempt_count), now(), v.data::jsonb
                  FROM t{events.From}
                  RETURNING job_id, seq, type, attempt, occurred_at, data)
                , o AS (INSERT INTO outbox_messages (message_id, job_id, message_type, body, trace_parent)
                  SELECT gen_random_uuid(), e.job_id, 'JobTimelineEvent', {TimelineEnvelope}, {traceParent}
                  FROM e JOIN t ON t.id = e.job_id ORDER BY e.job_id, e.seq
                  RETURNING 1)
                """);
        }

        if (dispatchWhen is not null)
        {
            // Sent to the queue rather than published: a send declares the queue, so the request is kept even
            // before any worker has bound it.
            sql.Append($"""
                , r AS (INSERT INTO outbox_messages (message_id, job_id, message_type, destination, body, trace_parent)
                  SELECT gen_random_uuid(), t.id, 'JobRequested', @job_queue, t.request, {traceParent} FROM t WHERE {dispatchWhen}
                  RETURNING 1)
                """);
        }

        sql.Append(' ').Append(select);
        return sql.ToString();
    }
}
