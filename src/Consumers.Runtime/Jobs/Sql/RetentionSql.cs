namespace Consumers.Runtime.Jobs.Sql;

/// <summary>
/// Retention's statements. Finished jobs and finished pipelines past their outcome's retention (@keep_succeeded,
/// @keep_failed, @keep_cancelled), and operator actions older than @keep_actions, each deleted in batches of @batch.
/// A job whose outbox rows are not yet published stays, so does a step job while its pipeline is kept, and so does a
/// segment job whose fanned-out parent has not finished (deleting the parent deletes its segment jobs). The job and
/// pipeline statements return <c>status, count</c>.
/// </summary>
internal static class RetentionSql
{
    private const string Keep = "CASE status WHEN 'succeeded' THEN @keep_succeeded WHEN 'failed' THEN @keep_failed ELSE @keep_cancelled END";

    // No index on a pipeline's finished_at: without ORDER BY the scan stops at the first @batch matches, which sit at the
    // table's start (the oldest rows), instead of sorting every finished pipeline. A pipeline with a job still waiting
    // or running is never expired, whatever its row says.
    private const string ExpiredPipeline =
        $"""
        status IN ('succeeded', 'failed', 'cancelled') AND finished_at < now() - {Keep}
          AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.pipeline_id = pipelines.id AND j.status IN ('queued', 'processing'))
        """;

    private const string ExpiredJob =
        $"""
        status IN ('succeeded', 'failed', 'cancelled') AND finished_at < now() - {Keep}
          AND NOT EXISTS (SELECT 1 FROM outbox_messages o WHERE o.job_id = jobs.id)
          AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.id = jobs.parent_job_id AND p.status NOT IN ('succeeded', 'failed', 'cancelled'))
        """;

    /// <summary>
    /// Deletes up to @batch of them with their events and checkpoints (the foreign keys cascade), skipping rows another
    /// transaction holds. A step job goes only once its pipeline's row is gone (<see cref="PrunePipelines"/> runs first).
    /// </summary>
    public const string PruneFinished =
        $"""
        WITH doomed AS (SELECT id, status FROM jobs WHERE {ExpiredJob}
            AND (pipeline_id IS NULL OR NOT EXISTS (SELECT 1 FROM pipelines p WHERE p.id = jobs.pipeline_id))
            ORDER BY finished_at LIMIT @batch FOR UPDATE SKIP LOCKED),
          d AS (DELETE FROM jobs j USING doomed WHERE j.id = doomed.id RETURNING j.status)
        SELECT status, count(*)::int AS count FROM d GROUP BY status
        """;

    /// <summary>What <see cref="PruneFinished"/> would delete now, counted by status, with the step jobs of the pipelines that go too.</summary>
    public const string CountPrunable =
        $"""
        SELECT status, count(*)::int AS count FROM jobs WHERE {ExpiredJob}
          AND (pipeline_id IS NULL OR NOT EXISTS (SELECT 1 FROM pipelines WHERE pipelines.id = jobs.pipeline_id AND NOT ({ExpiredPipeline})))
        GROUP BY status
        """;

    private const string PrunablePipelines = $"SELECT id, status FROM pipelines WHERE {ExpiredPipeline}";

    /// <summary>
    /// Deletes up to @batch expired pipelines with their steps and timeline (the foreign keys cascade), skipping any a
    /// step's final write holds; their step jobs go by <see cref="PruneFinished"/> once the pipeline row is gone.
    /// </summary>
    public const string PrunePipelines =
        $"""
        WITH doomed AS ({PrunablePipelines} LIMIT @batch FOR UPDATE SKIP LOCKED),
          d AS (DELETE FROM pipelines p USING doomed WHERE p.id = doomed.id RETURNING p.status)
        SELECT status, count(*)::int AS count FROM d GROUP BY status
        """;

    /// <summary>What <see cref="PrunePipelines"/> would delete now, counted by status.</summary>
    public const string CountPrunablePipelines = $"SELECT status, count(*)::int AS count FROM ({PrunablePipelines}) p GROUP BY status";

    /// <summary>Deletes up to @batch operator actions older than @keep_actions, oldest first (by <c>ix_operator_actions_at</c>).</summary>
    public const string PruneOperatorActions =
        """
        WITH doomed AS (SELECT id FROM operator_actions WHERE at < now() - @keep_actions ORDER BY at LIMIT @batch),
          d AS (DELETE FROM operator_actions a USING doomed WHERE a.id = doomed.id RETURNING 1)
        SELECT count(*)::int AS count FROM d
        """;

    /// <summary>What <see cref="PruneOperatorActions"/> would delete now.</summary>
    public const string CountPrunableOperatorActions = "SELECT count(*)::int AS count FROM operator_actions WHERE at < now() - @keep_actions";
}
