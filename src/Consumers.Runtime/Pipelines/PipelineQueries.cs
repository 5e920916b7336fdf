using Consumers.Runtime.Jobs;
using Consumers.Runtime.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Consumers.Runtime.Pipelines;

/// <summary>The read side of pipelines, for the CLI (show, check-timeline) and tools.</summary>
public sealed class PipelineQueries(ConsumersDbContext db)
{
    public Task<PipelineRecord?> FindAsync(Guid pipelineId, CancellationToken cancellationToken) =>
        db.Pipelines.AsNoTracking().SingleOrDefaultAsync(p => p.Id == pipelineId, cancellationToken);

    /// <summary>The steps in request order.</summary>
    public Task<List<PipelineStepRecord>> StepsAsync(Guid pipelineId, CancellationToken cancellationToken) =>
        db.PipelineSteps.AsNoTracking().Where(s => s.PipelineId == pipelineId).OrderBy(s => s.Ord).ToListAsync(cancellationToken);

    public Task<List<PipelineEventRecord>> TimelineAsync(Guid pipelineId, CancellationToken cancellationToken) =>
        db.PipelineEvents.AsNoTracking().Where(e => e.PipelineId == pipelineId).OrderBy(e => e.Seq).ToListAsync(cancellationToken);

    /// <summary>The jobs of the pipeline's dispatched steps.</summary>
    public Task<List<JobRecord>> JobsAsync(Guid pipelineId, CancellationToken cancellationToken) =>
        db.Jobs.AsNoTracking().Where(j => j.PipelineId == pipelineId).ToListAsync(cancellationToken);

    /// <summary>
    /// The pipelines whose id starts or ends with <paramref name="fragment"/> (hex digits, dashes ignored), at most
    /// <paramref name="limit"/>: a pipeline found by a short id, as a job is (<see cref="JobQueries.MatchIdAsync"/>).
    /// </summary>
    public Task<List<Guid>> MatchIdAsync(string fragment, int limit, CancellationToken cancellationToken)
    {
        var digits = fragment.Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();
        return db.Pipelines.AsNoTracking()
            .Where(p => EF.Functions.Like(p.Id.ToString().Replace("-", ""), digits + "%")
                        || EF.Functions.Like(p.Id.ToString().Replace("-", ""), "%" + digits))
            .Select(p => p.Id).Take(limit).ToListAsync(cancellationToken);
    }

    /// <summary>Ids of pipelines created in [<paramref name="from"/>, <paramref name="to"/>), oldest first.</summary>
    public Task<List<Guid>> CreatedBetweenAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        db.Pipelines.AsNoTracking().Where(p => p.CreatedAt >= from && p.CreatedAt < to).OrderBy(p => p.CreatedAt).Select(p => p.Id).ToListAsync(cancellationToken);
}
