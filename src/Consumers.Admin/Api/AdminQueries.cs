using Consumers.Contracts;
using Consumers.Runtime.Control;
using Consumers.Runtime.Flow;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Messaging;
using Consumers.Runtime.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Consumers.Admin.Api;

/// <summary>
/// The admin API's reads: the shared read model (<see cref="JobQueries"/>, <see cref="OperatorAudit"/>) put together with
/// the settings and RabbitMQ's queue depths; no SQL of its own, nothing written.
/// </summary>
public sealed class AdminQueries(RuntimeServices runtime)
{
    /// <summary>Jobs waiting this long count as stuck on the overview (the CLI's <c>stuck</c> default).</summary>
    public static readonly TimeSpan QueuedTooLong = TimeSpan.FromMinutes(10);

    public async Task<JobPage> JobsAsync(string? status, string? stage, string? idFragment, int offset, int limit, CancellationToken cancellationToken)
    {
        await using var scope = runtime.CreateScope();
        return await scope.ServiceProvider.GetRequiredService<JobQueries>().PageAsync(status, stage, idFragment, offset, limit, cancellationToken);
    }

    /// <summary>The ids a full id or a fragment of one (its first or last hex digits) names, at most <paramref name="limit"/>.</summary>
    public async Task<List<Guid>> ResolveAsync(string text, int limit, CancellationToken cancellationToken)
    {
        if (Guid.TryParse(text, out var id))
        {
            return [id];
        }

        await using var scope = runtime.CreateScope();
        return await scope.ServiceProvider.GetRequiredService<JobQueries>().MatchIdAsync(text, limit, cancellationToken);
    }

    public async Task<JobWithTimeline?> JobAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var scope = runtime.CreateScope();
        var queries = scope.ServiceProvider.GetRequiredService<JobQueries>();
        var job = await queries.FindAsync(id, cancellationToken);
        return job is null ? null : new JobWithTimeline(JobView.From(job), [.. (await queries.TimelineAsync(id, cancellationToken)).Select(JobEventView.From)]);
    }

    public async Task<List<StuckJob>> StuckAsync(TimeSpan queuedLongerThan, CancellationToken cancellationToken)
    {
        await using var scope = runtime.CreateScope();
        return await StuckJobs.FindAsync(scope.ServiceProvider.GetRequiredService<JobQueries>(), queuedLongerThan, DateTimeOffset.UtcNow, cancellationToken);
    }

    public async Task<LanesView> LanesAsync(CancellationToken cancellationToken)
    {
        var rabbit = runtime.Get<IOptions<RabbitMqOptions>>().Value;
        var flow = runtime.Get<IOptions<FlowOptions>>().Value;
        var stages = runtime.Get<Runtime.Stages.StageRegistry>().Names.Order(StringComparer.Ordinal).ToList();
        var parking = stages.ToDictionary(s => s, s => $"{rabbit.JobQueue}.paused.{s}", StringComparer.Ordinal);
        var ownLanes = flow.Stages.Where(s => s.Value.Slots > 0).OrderBy(s => s.Key, StringComparer.Ordinal)
            .Select(s => (Name: s.Key, Queue: $"{rabbit.JobQueue}.{s.Key}", Slots: Math.Min(s.Value.Slots, flow.ConcurrentJobs))).ToList();

        List<RunningCount> runningNow;
        await using (var scope = runtime.CreateScope())
        {
            runningNow = await scope.ServiceProvider.GetRequiredService<JobQueries>().RunningAsync(cancellationToken);
        }

        var running = runningNow.ToDictionary(r => (r.Stage, r.Owner), r => r.Count);
        var watched = flow.Backpressure.WatchQueues;
        var depths = await DepthsAsync(
            [rabbit.JobQueue, .. ownLanes.Select(l => l.Queue), .. parking.Values, .. watched], cancellationToken);
        long? Depth(string queue) => depths.GetValueOrDefault(queue);
        int RunningOf(Func<string, bool> stage) => running.Where(r => stage(r.Key.Stage)).Sum(r => r.Value);
        var lanes = new List<LaneView>
        {
            new("shared", rabbit.JobQueue, flow.ConcurrentJobs, RunningOf(s => ownLanes.All(l => l.Name != s)), Depth(rabbit.JobQueue),
                [.. stages.Where(s => ownLanes.All(l => l.Name != s))]),
        };
        lanes.AddRange(ownLanes.Select(l => new LaneView(l.Name, l.Queue, l.Slots, RunningOf(s => s == l.Name), Depth(l.Queue), [l.Name])));
        var workers = running.GroupBy(r => r.Key.Owner).Select(g => new WorkerView(g.Key, g.Sum(r => r.Value)))
            .OrderBy(w => w.WorkerId, StringComparer.Ordinal).ToList();
        var pauses = (await runtime.Get<StagePauseStore>().ListAsync(cancellationToken))
            .Select(p => new PauseView(p.Stage, p.PausedBy, p.Reason, p.PausedAt, parking.TryGetValue(p.Stage, out var q) ? Depth(q) : null)).ToList();
        var backpressure = new BackpressureView(flow.Backpressure.Enabled, flow.Backpressure.QueueHighWatermark, flow.Backpressure.QueueLowWatermark,
            [.. watched.Select(q => new QueueDepth(q, Depth(q)))]);
        return new LanesView(flow.ConcurrentJobs, lanes, workers, pauses, backpressure);
    }

    public async Task<OverviewView> OverviewAsync(CancellationToken cancellationToken)
    {
        await using var scope = runtime.CreateScope();
        var jobs = scope.ServiceProvider.GetRequiredService<JobQueries>();
        var stages = await jobs.StageCountsAsync(cancellationToken);
        var throughput = await jobs.ThroughputAsync(cancellationToken);
        var outbox = await jobs.OutboxAsync(cancellationToken);
        var statuses = JobStatuses.All.ToDictionary(s => s, s => stages.Where(c => c.Status == s).Sum(c => c.Count), StringComparer.Ordinal);
        var stuck = (await StuckAsync(QueuedTooLong, cancellationToken)).Count;
        var errorQueues = runtime.Get<DeadLetterQueues>();
        var deadLetters = (await DepthsAsync(errorQueues.ErrorQueues(), cancellationToken)).Select(d => new QueueDepth(d.Key, d.Value)).ToList();
        return new OverviewView(statuses, stages, throughput, outbox, stuck, deadLetters, await LanesAsync(cancellationToken));
    }

    /// <summary>Queue depths, or none when RabbitMQ cannot be asked: the views then show the database's side alone.</summary>
    private async Task<IReadOnlyDictionary<string, long?>> DepthsAsync(IReadOnlyList<string> queues, CancellationToken cancellationToken)
    {
        try
        {
            return await runtime.Get<DeadLetterQueues>().DepthsAsync(queues, cancellationToken);
        }
        catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.BrokerUnreachableException or RabbitMQ.Client.Exceptions.OperationInterruptedException
                                       or RabbitMQ.Client.Exceptions.AlreadyClosedException or IOException or TimeoutException)
        {
            return new Dictionary<string, long?>();
        }
    }

    public async Task<List<AuditEntry>> AuditAsync(string? target, int limit, CancellationToken cancellationToken) =>
        [.. (await runtime.Get<OperatorAudit>().ListAsync(target, limit, cancellationToken))
            .Select(a => new AuditEntry(a.At, a.Action, a.Target, a.By, a.Reason, a.Outcome))];
}
