namespace Consumers.Runtime.Jobs.Sql;

/// <summary>
/// Retention's statements: finished jobs past their outcome's retention (@keep_succeeded, @keep_failed,
/// @keep_cancelled), oldest first; a job whose outbox rows are not yet published stays, and so does a segment job
/// whose fanned-out parent has not finished (deleting the parent deletes its segment jobs). Both return <c>status, count</c>.
/// </summary>
internal static class RetentionSql
{
    private const string Prunable =
        """
        SELECT id, status FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled')
          AND finished_at < now() - CASE status WHEN 'succeeded' THEN @keep_succeeded WHEN 'failed' THEN @keep_failed ELSE @keep_cancelled END
          AND NOT EXISTS (SELECT 1 FROM outbox_messages o WHERE o.job_id = jobs.id)
          AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.id = jobs.parent_job_id AND p.status NOT IN ('succeeded', 'failed', 'cancelled'))
        """;

    /// <summary>Deletes up to @batch of them with their events (the foreign key cascades), skipping rows another transaction holds.</summary>
    public const string PruneFinished =
        $"""
        WITH doomed AS ({Prunable} ORDER BY finished_at LIMIT @batch FOR UPDATE SKIP LOCKED),
          d AS (DELETE FROM jobs j USING doomed WHERE j.id = doomed.id RETURNING j.status)
        SELECT status, count(*)::int AS count FROM d GROUP BY status
        """;

    /// <summary>What <see cref="PruneFinished"/> would delete now, counted by status.</summary>
    public const string CountPrunable = $"SELECT status, count(*)::int AS count FROM ({Prunable}) p GROUP BY status";
}
