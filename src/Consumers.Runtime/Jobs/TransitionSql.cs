using System.Text;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// Builds the one statement that every state change is: change the job row, append its timeline events
/// with the next sequence numbers, and queue their outbox messages (plus, optionally, a fresh
/// <c>JobRequested</c>). Because the row update takes the row lock and bumps <c>last_event_seq</c> in the
/// same statement, sequence numbers are gapless and ordered by commit, and nothing is written when the
/// guard (for example the fencing token) does not match.
/// </summary>
internal static class TransitionSql
{
    /// <summary>What the caller reads back.</summary>
    public const string ReturnedColumns = "id, stage, attempt_count, lease_token, last_event_seq, max_attempts, lease_timeout_seconds, status, uncharged_attempts";

    /// <summary>What every row source must return: the columns above plus the stored request.</summary>
    public const string Returning = " RETURNING " + ReturnedColumns + ", request";

    /// <param name="rowSource">A data-modifying statement on <c>jobs</c> ending in <see cref="Returning"/>.</param>
    /// <param name="eventCount">How many events the caller binds as @type{i}, @data{i}, @attempt{i} (1-based); outbox rows also take @trace_parent.</param>
    /// <param name="dispatchRequest">Also queue the job's stored request, sent straight to the job queue bound as @job_queue.</param>
    public static string Build(string rowSource, int eventCount, bool dispatchRequest)
    {
        var sql = new StringBuilder(1024);
        sql.Append("WITH t AS (").Append(rowSource).Append(')');
        if (eventCount > 0)
        {
            sql.Append(", e AS (INSERT INTO job_events (job_id, seq, type, attempt, occurred_at, data) ")
               .Append("SELECT t.id, t.last_event_seq - ").Append(eventCount).Append(" + v.ord, v.type, COALESCE(v.attempt, t.attempt_count), now(), v.data ")
               .Append("FROM t, (VALUES ");
            for (var i = 1; i <= eventCount; i++)
            {
                if (i > 1)
                {
                    sql.Append(", ");
                }

                sql.Append('(').Append(i).Append(", @type").Append(i).Append("::text, @data").Append(i)
                   .Append("::jsonb, @attempt").Append(i).Append("::int)");
            }

            sql.Append(") AS v(ord, type, data, attempt) RETURNING job_id, seq, type, attempt, occurred_at, data)")
               .Append(", o AS (INSERT INTO outbox_messages (message_id, job_id, message_type, body, trace_parent) ")
               .Append("SELECT gen_random_uuid(), e.job_id, 'JobTimelineEvent', jsonb_build_object(")
               .Append("'schemaVersion', 1, 'jobId', e.job_id, 'sequence', e.seq, 'type', e.type, 'attempt', e.attempt, ")
               .Append("'stage', t.stage, 'occurredAt', e.occurred_at, 'data', e.data), @trace_parent ")
               .Append("FROM e, t ORDER BY e.seq RETURNING 1)");
        }

        if (dispatchRequest)
        {
            // Sent to the queue rather than published: a send declares the queue, so the request is kept even
            // before any worker has bound it.
            sql.Append(", r AS (INSERT INTO outbox_messages (message_id, job_id, message_type, destination, body, trace_parent) ")
               .Append("SELECT gen_random_uuid(), t.id, 'JobRequested', @job_queue, t.request, @trace_parent FROM t RETURNING 1)");
        }

        sql.Append(" SELECT ").Append(ReturnedColumns).Append(" FROM t");
        return sql.ToString();
    }
}
