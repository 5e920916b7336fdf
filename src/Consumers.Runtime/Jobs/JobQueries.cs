using Consumers.Runtime.Persistence;
using Consumers.Runtime.Timeline;
using Microsoft.EntityFrameworkCore;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// The read model of jobs for operators and tools, used by the CLI and the admin API alike: every read of jobs (and of
/// what the overview shows beside them) is here, with no tracking and no locks.
/// </summary>
public sealed class JobQueries(ConsumersDbContext db)
{
    public Task<JobRecord?> FindAsync(Guid jobId, CancellationToken cancellationToken) =>
        db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == jobId, cancellationToken);

    public Task<List<JobEventRecord>> TimelineAsync(Guid jobId, CancellationToken cancellationToken) =>
        db.JobEvents.AsNoTracking().Where(e => e.JobId == jobId).OrderBy(e => e.Seq).ToListAsync(cancellationToken);

    public Task<List<JobRecord>> ListAsync(string? status, string? stage, int limit, CancellationToken cancellationToken) =>
        Filter(status, stage).OrderByDescending(j => j.CreatedAt).Take(limit).ToListAsync(cancellationToken);

    private IQueryable<JobRecord> Filter(string? status, string? stage)
    {
        var query = db.Jobs.AsNoTracking();
        if (status is not null)
        {
            query = query.Where(j => j.Status == status);
        }

        if (stage is not null)
        {
            query = query.Where(j => j.Stage == stage);
        }

        return query;
    }

    /// <summary>Whole timelines of the jobs created in [from, to), oldest job first, in pages of <paramref name="pageSize"/> jobs.</summary>
    public async IAsyncEnumerable<(Guid JobId, List<JobEventRecord> Events)> TimelinesAsync(
        DateTimeOffset from, DateTimeOffset to, int pageSize, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var after = DateTimeOffset.MinValue;
        var afterId = Guid.Empty;
        while (true)
        {
            var page = await db.Jobs.AsNoTracking()
                .Where(j => j.CreatedAt >= from && j.CreatedAt < to)
                .Where(j => j.CreatedAt > after || (j.CreatedAt == after && j.Id.CompareTo(afterId) > 0))
                .OrderBy(j => j.CreatedAt).ThenBy(j => j.Id)
                .Select(j => new { j.Id, j.CreatedAt })
                .Take(pageSize)
                .ToListAsync(cancellationToken);
            if (page.Count == 0)
            {
                yield break;
            }

            var ids = page.Select(p => p.Id).ToList();
            var events = await db.JobEvents.AsNoTracking().Where(e => ids.Contains(e.JobId))
                .OrderBy(e => e.JobId).ThenBy(e => e.Seq).ToListAsync(cancellationToken);
            var byJob = events.GroupBy(e => e.JobId).ToDictionary(g => g.Key, g => g.ToList());
            foreach (var id in ids)
            {
                yield return (id, byJob.GetValueOrDefault(id) ?? []);
            }

            (after, afterId) = (page[^1].CreatedAt, page[^1].Id);
        }
    }

    public Task<Dictionary<string, int>> CountByStatusAsync(CancellationToken cancellationToken) =>
        CountByStatusAsync(null, null, cancellationToken);

    /// <summary>Jobs per status among those <see cref="ListAsync"/> would select with the same filters (without its limit).</summary>
    public async Task<Dictionary<string, int>> CountByStatusAsync(string? status, string? stage, CancellationToken cancellationToken) =>
        await Filter(status, stage).GroupBy(j => j.Status).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Key, g => g.Count, cancellationToken);

    /// <summary>
    /// The jobs whose id starts or ends with <paramref name="fragment"/> (hex digits, dashes ignored), at most
    /// <paramref name="limit"/>: what the short ids printed by <c>watch</c> (the last 8 digits) resolve to.
    /// </summary>
    public Task<List<Guid>> MatchIdAsync(string fragment, int limit, CancellationToken cancellationToken) =>
        MatchingId(db.Jobs.AsNoTracking(), fragment).Select(j => j.Id).Take(limit).ToListAsync(cancellationToken);

    /// <summary>
    /// A page of jobs, newest first, filtered by stage and id fragment, with the count per status of what those filters
    /// select (so a status tab says how many it would show), then filtered by status.
    /// </summary>
    public async Task<JobPage> PageAsync(string? status, string? stage, string? idFragment, int offset, int limit, CancellationToken cancellationToken)
    {
        var query = Filter(null, stage);
        if (idFragment is not null)
        {
            query = MatchingId(query, idFragment);
        }

        var counts = await query.GroupBy(j => j.Status).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Key, g => g.Count, cancellationToken);
        if (status is not null)
        {
            query = query.Where(j => j.Status == status);
        }

        var jobs = await query.OrderByDescending(j => j.CreatedAt).ThenBy(j => j.Id).Skip(offset).Take(limit).ToListAsync(cancellationToken);
        var total = status is null ? counts.Values.Sum() : counts.GetValueOrDefault(status);
        return new JobPage(total, offset, limit, counts, [.. jobs.Select(JobView.From)]);
    }

    /// <summary>Jobs per stage and status: all waiting and running, and those finished in the last 24 hours (status and finished_at indexes).</summary>
    public Task<List<StageCount>> StageCountsAsync(CancellationToken cancellationToken) =>
        db.Database.SqlQueryRaw<StageCount>(
                "SELECT stage AS \"Stage\", status AS \"Status\", count(*)::int AS \"Count\" FROM jobs WHERE status IN ('queued', 'processing') GROUP BY 1, 2 " +
                "UNION ALL SELECT stage, status, count(*)::int FROM jobs WHERE finished_at >= now() - interval '24 hours' GROUP BY 1, 2")
            .OrderBy(c => c.Stage).ThenBy(c => c.Status).ToListAsync(cancellationToken);

    /// <summary>Jobs finished per minute over the last 15 minutes (only minutes with any).</summary>
    public Task<List<ThroughputMinute>> ThroughputAsync(CancellationToken cancellationToken) =>
        db.Database.SqlQueryRaw<ThroughputMinute>(
                "SELECT date_trunc('minute', finished_at) AS \"Minute\", count(*) FILTER (WHERE status = 'succeeded')::int AS \"Succeeded\", " +
                "count(*) FILTER (WHERE status = 'failed')::int AS \"Failed\", count(*) FILTER (WHERE status = 'cancelled')::int AS \"Cancelled\" " +
                "FROM jobs WHERE finished_at >= date_trunc('minute', now()) - interval '14 minutes' GROUP BY 1")
            .OrderBy(m => m.Minute).ToListAsync(cancellationToken);

    /// <summary>Jobs running now, per stage and lease owner.</summary>
    public Task<List<RunningCount>> RunningAsync(CancellationToken cancellationToken) =>
        db.Jobs.AsNoTracking().Where(j => j.Status == "processing")
            .GroupBy(j => new { j.Stage, Owner = j.LeaseOwner ?? "" })
            .Select(g => new RunningCount(g.Key.Stage, g.Key.Owner, g.Count()))
            .ToListAsync(cancellationToken);

    /// <summary>The outbox backlog, counted up to a million as the backlog monitor does (a bounded scan), and its oldest row's age.</summary>
    public async Task<OutboxView> OutboxAsync(CancellationToken cancellationToken) =>
        await db.Database.SqlQueryRaw<OutboxView>(
                "SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox_messages LIMIT 1000000) b) AS \"Backlog\", " +
                "COALESCE(extract(epoch FROM now() - (SELECT created_at FROM outbox_messages ORDER BY id LIMIT 1)), 0)::float8 AS \"OldestAgeSeconds\"")
            .SingleAsync(cancellationToken);

    private static IQueryable<JobRecord> MatchingId(IQueryable<JobRecord> query, string fragment)
    {
        var digits = fragment.Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();
        return query.Where(j => EF.Functions.Like(j.Id.ToString().Replace("-", ""), digits + "%")
                                || EF.Functions.Like(j.Id.ToString().Replace("-", ""), "%" + digits));
    }
}
