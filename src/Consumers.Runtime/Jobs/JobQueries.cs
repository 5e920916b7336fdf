using Consumers.Runtime.Persistence;
using Consumers.Runtime.Timeline;
using Microsoft.EntityFrameworkCore;

namespace Consumers.Runtime.Jobs;

/// <summary>Read-only views of jobs for operators and tools (no tracking, no locks).</summary>
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
    public Task<List<Guid>> MatchIdAsync(string fragment, int limit, CancellationToken cancellationToken)
    {
        var digits = fragment.Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();
        return db.Jobs.AsNoTracking()
            .Where(j => EF.Functions.Like(j.Id.ToString().Replace("-", ""), digits + "%")
                        || EF.Functions.Like(j.Id.ToString().Replace("-", ""), "%" + digits))
            .Select(j => j.Id).Take(limit).ToListAsync(cancellationToken);
    }
}
