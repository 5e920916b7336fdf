namespace Consumers.Runtime.Checkpoints;

/// <summary>
/// Every statement on <c>job_checkpoints</c>, named. Writes of an attempt are fenced like the job's own: the row
/// lock on the job is taken with the lease check, so a checkpoint lands only while the writer holds the lease, and
/// an acquire by another worker waits for it and then reads it.
/// </summary>
internal static class CheckpointSql
{
    /// <summary>The checkpoint a new attempt resumes from (@id), if any.</summary>
    public const string Load =
        "SELECT attempt, state::text, parts::text, saves FROM job_checkpoints WHERE job_id = @id";

    /// <summary>
    /// Records this attempt's checkpoint (@id, @token, @attempt, @state, @parts) only while it holds the lease and
    /// the job is processing; returns one row when written, none when fenced (a stale or zombie attempt).
    /// </summary>
    public const string Save =
        "WITH held AS (SELECT id FROM jobs WHERE id = @id AND lease_token = @token AND status = 'processing' FOR NO KEY UPDATE) " +
        "INSERT INTO job_checkpoints (job_id, attempt, lease_token, state, parts, saves, updated_at) " +
        "SELECT id, @attempt, @token, @state::jsonb, @parts::jsonb, 1, now() FROM held " +
        "ON CONFLICT (job_id) DO UPDATE SET attempt = EXCLUDED.attempt, lease_token = EXCLUDED.lease_token, state = EXCLUDED.state, " +
        "parts = EXCLUDED.parts, saves = job_checkpoints.saves + 1, updated_at = now() " +
        "RETURNING saves";

    /// <summary>Removes the checkpoint of a job (@id) that has finished; nothing while it can still run.</summary>
    public const string ClearFinished =
        "DELETE FROM job_checkpoints c USING jobs j WHERE c.job_id = @id AND j.id = c.job_id AND j.status IN ('succeeded', 'failed', 'cancelled')";

    /// <summary>Of the jobs @ids (work folders found on disk), those that may still run: their folders stay.</summary>
    public const string Unfinished =
        "SELECT id FROM jobs WHERE id = ANY(@ids) AND status NOT IN ('succeeded', 'failed', 'cancelled')";

    /// <summary>Removes the checkpoint rows of every finished job (a cleanup missed by a crash); returns how many.</summary>
    public const string ClearAllFinished =
        "DELETE FROM job_checkpoints c USING jobs j WHERE j.id = c.job_id AND j.status IN ('succeeded', 'failed', 'cancelled')";

    /// <summary>
    /// The fence of a segment job's write into its parent's checkpoint: the segment job (@id) holds its lease (@token),
    /// its row names the parent (@parent), and the parent still waits for it. Locks the segment job's row until the
    /// write commits, so a takeover waits for it, and a write that waited for a takeover finds nothing.
    /// </summary>
    public const string FenceSegmentJob =
        "SELECT 1 FROM jobs WHERE id = @id AND lease_token = @token AND status = 'processing' AND parent_job_id = @parent " +
        "AND EXISTS (SELECT 1 FROM jobs p WHERE p.id = @parent AND p.status = 'waiting') FOR NO KEY UPDATE";

    /// <summary>Creates the parent's (@parent) empty checkpoint if it has none, so concurrent segment jobs all lock one row.</summary>
    public const string EnsureParentRow =
        "INSERT INTO job_checkpoints (job_id, attempt, lease_token, state, parts, saves, updated_at) " +
        "VALUES (@parent, 0, 0, '{}'::jsonb, '[]'::jsonb, 0, now()) ON CONFLICT (job_id) DO NOTHING";

    /// <summary>The parent's (@parent) checkpoint, locked until the merged write commits: segment jobs write one at a time.</summary>
    public const string LoadParentForUpdate = "SELECT state::text, parts::text FROM job_checkpoints WHERE job_id = @parent FOR UPDATE";

    /// <summary>Writes the parent's (@parent) merged checkpoint (@state, @parts; attempt 0: written by segment jobs, @token theirs).</summary>
    public const string WriteParent =
        "UPDATE job_checkpoints SET attempt = 0, lease_token = @token, state = @state::jsonb, parts = @parts::jsonb, saves = saves + 1, updated_at = now() " +
        "WHERE job_id = @parent";

    /// <summary>The segment jobs of @id: how many, finished, succeeded (all zero: it never fanned out).</summary>
    public const string SegmentJobs =
        "SELECT count(*)::int AS total, count(*) FILTER (WHERE status IN ('succeeded', 'failed', 'cancelled'))::int AS finished, " +
        "count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded FROM jobs WHERE parent_job_id = @id";

    /// <summary>The parent the row of job @id names (<c>parent_job_id</c>) and that parent's status.</summary>
    public const string SegmentJobParent =
        "SELECT j.parent_job_id, p.status FROM jobs j LEFT JOIN jobs p ON p.id = j.parent_job_id WHERE j.id = @id";
}
