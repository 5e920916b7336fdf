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

/// <summary>The admin API's reads: no tracking, no locks, nothing written.</summary>
public sealed class AdminQueries(RuntimeServices runtime)
{
    /// <summary>Jobs waiting this long count as stuck on the overview (the CLI's <c>stuck</c> default).</summary>
    public static readonly TimeSpan QueuedTooLong = TimeSpan.FromMinutes(10);

    public async Task<JobPage> JobsAsync(string? status, string? stage, string? idFragment, int offset, int limit, CancellationToken cancellationToken)
    {
        await using var scope = runtime.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<ConsumersDbContext>();
        var query = db.Jobs.AsNoTracking();
        if (stage is not null)
        {
            query = query.Where(j => j.Stage == stage);
        }

        if (idFragment is not null)
        {
            var digits = idFragment.Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();
            query = query.Where(j => EF.Functions.Like(j.Id.ToString().Replace("-", ""), digits + "%")
                                     || EF.Functions.Like(j.Id.ToString().Replace("-", ""), "%" + digits));
        }

        // Counts cover the other filters, so the status tabs say how many each would show.
        var counts = await query.GroupBy(j => j.Status).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Key, g => g.Count, cancellationToken);
        if (status is not null)
        {
            query = query.Where(j => j.Status == status);
        }

        var jobs = await query.OrderByDescending(j => j.CreatedAt).ThenBy(j => j.Id).Skip(offset).Take(limit).ToListAsync(cancellationToken);
        var total = status is null ? counts.Values.Sum() : counts.GetValueOrDefault(status);
        return new JobPage(total, offset, limit, counts, [.. jobs.Select(AdminJob.From)]);
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
        return job is null ? null : new JobWithTimeline(AdminJob.From(job), [.. (await queries.TimelineAsync(id, cancellationToken)).Select(AdminEvent.From)]);
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

        var running = new Dictionary<(string Stage, string Owner), int>();
        await using (var command = runtime.Get<NpgsqlDataSource>().CreateCommand(
            "SELECT stage, COALESCE(lease_owner, ''), count(*)::int FROM jobs WHERE status = 'processing' GROUP BY 1, 2"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                running[(reader.GetString(0), reader.GetString(1))] = reader.GetInt32(2);
            }
        }

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
        var dataSource = runtime.Get<NpgsqlDataSource>();
        // Waiting and running jobs all, finished ones of the last day: the status and finished_at indexes keep it cheap on a big table.
        var stages = new List<StageCount>();
        await using (var command = dataSource.CreateCommand(
            "SELECT stage, status, count(*)::int FROM jobs WHERE status IN ('queued', 'processing') GROUP BY 1, 2 " +
            "UNION ALL SELECT stage, status, count(*)::int FROM jobs WHERE finished_at >= now() - interval '24 hours' GROUP BY 1, 2 ORDER BY 1, 2"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                stages.Add(new StageCount(reader.GetString(0), reader.GetString(1), reader.GetInt32(2)));
            }
        }

        var throughput = new List<ThroughputMinute>();
        await using (var command = dataSource.CreateCommand(
            "SELECT date_trunc('minute', finished_at) AS m, count(*) FILTER (WHERE status = 'succeeded')::int, " +
            "count(*) FILTER (WHERE status = 'failed')::int, count(*) FILTER (WHERE status = 'cancelled')::int " +
            "FROM jobs WHERE finished_at >= date_trunc('minute', now()) - interval '14 minutes' GROUP BY 1 ORDER BY 1"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                throughput.Add(new ThroughputMinute(reader.GetFieldValue<DateTimeOffset>(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3)));
            }
        }

        OutboxView outbox;
        // Counted up to a million, as the backlog monitor does, so a huge backlog costs a bounded scan.
        await using (var command = dataSource.CreateCommand(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox_messages LIMIT 1000000) b), " +
            "COALESCE(extract(epoch FROM now() - (SELECT created_at FROM outbox_messages ORDER BY id LIMIT 1)), 0)::float8"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            outbox = new OutboxView(reader.GetInt64(0), reader.GetDouble(1));
        }

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

    public async Task<List<AuditEntry>> AuditAsync(string? target, int limit, CancellationToken cancellationToken)
    {
        await using var scope = runtime.CreateScope();
        var query = scope.ServiceProvider.GetRequiredService<ConsumersDbContext>().OperatorActions.AsNoTracking();
        if (target is not null)
        {
            query = query.Where(a => a.Target == target);
        }

        return await query.OrderByDescending(a => a.At).ThenByDescending(a => a.Id).Take(limit)
            .Select(a => new AuditEntry(a.At, a.Action, a.Target, a.By, a.Reason, a.Outcome)).ToListAsync(cancellationToken);
    }
}
