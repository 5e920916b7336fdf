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

    public Task<List<JobRecord>> ListAsync(string? status, string? stage, int limit, CancellationToken cancellationToken)
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

        return query.OrderByDescending(j => j.CreatedAt).Take(limit).ToListAsync(cancellationToken);
    }

    public async Task<Dictionary<string, int>> CountByStatusAsync(CancellationToken cancellationToken) =>
        await db.Jobs.AsNoTracking().GroupBy(j => j.Status).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Key, g => g.Count, cancellationToken);
}
