using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;
using Consumers.Contracts;
using Consumers.Testing.Faults;

namespace Consumers.Bench.Sections.Faults;

/// <summary>
/// A private three-node RabbitMQ cluster (<see cref="RabbitCluster"/>, never the shared broker) with quorum job
/// queues; two workers given every node; a job every 100 ms, alternately submitted through the outbox and published
/// as plain JSON on another node; then SIGKILL of the node the first worker is connected to. Reports the time from
/// the kill to the first <c>started</c> of a job published after it, and what was dead-lettered, failed or lost.
/// The cluster starts once (40-70 s); the killed node is started again between runs.
/// </summary>
public static class BrokerNodeLossFaults
{
    public const string Name = "broker node of the workers killed";

    private static readonly TimeSpan ClusterStartBound = TimeSpan.FromSeconds(150);
    private static readonly TimeSpan ResumeBound = TimeSpan.FromSeconds(60);
    private static readonly string[] ErrorQueues = ["consumers.jobs_error", "consumers.jobs.transcode_error"];

    public static async Task MeasureAsync(BenchContext context, SectionResult result)
    {
        await using var environment = await BenchEnvironment.CreateAsync(context.Options.MaxAutoPrepare);
        var clusterClock = Stopwatch.StartNew();
        RabbitCluster cluster;
        try
        {
            cluster = await RabbitCluster.StartAsync(environment.LogRoot, ClusterStartBound);
        }
        catch (ClusterUnavailableException ex)
        {
            result.Notes.Add("broker node loss: not measured, " + ex.Message.Split('\n')[0]);
            return;
        }

        await using (cluster)
        {
            Progress.Line(string.Create(CultureInfo.InvariantCulture, $"faults: RabbitMQ cluster of {cluster.Size} nodes up after {clusterClock.Elapsed.TotalSeconds:F0}s"));
            var runs = new List<BrokerRun>();
            for (var run = 1; run <= context.Options.FaultRuns; run++)
            {
                var outcome = await RunOnceAsync(environment, cluster, run);
                runs.Add(outcome);
                Progress.Line(string.Create(CultureInfo.InvariantCulture,
                    $"faults {Name} {run}/{context.Options.FaultRuns}: node {outcome.KilledNode} killed, consuming again after {outcome.ResumeSeconds:F2}s, " +
                    $"{outcome.Jobs} jobs, error queues {outcome.ErrorQueueMessages}, failed {outcome.FailedJobs}, lost {outcome.LostJobs}"));
            }

            FaultFigures.Takeover(result, $"{Name}: consuming again", runs.Select(r => r.ResumeSeconds).ToList(), "runs never consumed again within 60 s");
            result.Add($"{Name}: jobs per run, median", Stats.Median(runs.Select(r => (double)r.Jobs)), "jobs", "half outbox, half plain JSON published on a live node");
            FaultFigures.Losses(result, Name, runs.Sum(r => r.ErrorQueueMessages), runs.Sum(r => r.FailedJobs + r.LostJobs));
        }
    }

    private static async Task<BrokerRun> RunOnceAsync(BenchEnvironment environment, RabbitCluster cluster, int run)
    {
        var tag = string.Create(CultureInfo.InvariantCulture, $"node-loss-{run}");
        var settings = new Dictionary<string, string?>
        {
            ["Consumers:RabbitMq:VirtualHost"] = "/",
            ["Consumers:RabbitMq:QueueType"] = "quorum",
        };
        for (var i = 0; i < cluster.Nodes.Count; i++)
        {
            settings[$"Consumers:RabbitMq:Nodes:{i}"] = cluster.Nodes[i];
        }

        int? killed = null;
        using var stopProducing = new CancellationTokenSource();
        Task producer = Task.CompletedTask;
        try
        {
            var workers = await Task.WhenAll(environment.StartWorkerAsync(tag + "-a", 4, settings), environment.StartWorkerAsync(tag + "-b", 4, settings));
            var target = await NodeOfAsync(cluster, workers[0].WorkerId);
            var producerNode = Enumerable.Range(1, cluster.Size).First(n => n != target);
            using var live = cluster.Management(producerNode);
            var deadBefore = await ErrorQueueDepthAsync(live);

            var published = new ConcurrentDictionary<Guid, DateTimeOffset>();
            producer = Task.Run(() => ProduceAsync(environment, live, tag, published, stopProducing.Token));
            if (!await Poll.UntilAsync(async () => await environment.ScalarAsync<long>(
                    "SELECT count(*) FROM jobs WHERE id = ANY(@ids) AND status = 'succeeded'", ("ids", published.Keys.ToArray())) >= 10, TimeSpan.FromSeconds(60)))
            {
                throw new InvalidOperationException($"{Name}: the workers did not finish 10 jobs before the fault");
            }

            killed = target;
            await cluster.KillNodeAsync(target);
            // The script returns once the VM is gone: what is published from now on went through a live node.
            var killedAt = DateTimeOffset.UtcNow;
            double? resume = null;
            await Poll.UntilAsync(async () =>
            {
                var after = published.Where(p => p.Value > killedAt).Select(p => p.Key).ToArray();
                DateTime? first = null;
                if (after.Length > 0)
                {
                    await environment.QueryAsync("SELECT min(occurred_at) FROM job_events WHERE type = 'started' AND job_id = ANY(@ids)",
                        r => first = r.IsDBNull(0) ? null : r.GetDateTime(0), ("ids", after));
                }

                resume = first is null ? null : (new DateTimeOffset(DateTime.SpecifyKind(first.Value.ToUniversalTime(), DateTimeKind.Utc)) - killedAt).TotalSeconds;
                return resume is not null;
            }, ResumeBound);

            await Task.Delay(TimeSpan.FromSeconds(3));
            await stopProducing.CancelAsync();
            await producer;
            var jobs = published.Keys.ToArray();
            await Poll.UntilAsync(async () => await environment.ScalarAsync<long>(
                "SELECT count(*) FROM jobs WHERE id = ANY(@ids) AND status IN ('succeeded', 'failed')", ("ids", jobs)) == jobs.Length, TimeSpan.FromSeconds(120));

            var ids = ("ids", (object)jobs);
            var failed = await environment.ScalarAsync<long>("SELECT count(*) FROM jobs WHERE id = ANY(@ids) AND status = 'failed'", ids);
            var twice = await environment.ScalarAsync<long>(
                "SELECT count(*) FROM (SELECT job_id FROM job_events WHERE job_id = ANY(@ids) AND type = 'completed' GROUP BY job_id HAVING count(*) > 1) d", ids);
            var succeeded = await environment.ScalarAsync<long>("SELECT count(*) FROM jobs WHERE id = ANY(@ids) AND status = 'succeeded'", ids);
            var dead = await ErrorQueueDepthAsync(live) - deadBefore;
            return new BrokerRun(target, resume, jobs.Length, dead, failed + twice, jobs.Length - succeeded - failed);
        }
        finally
        {
            // Also after a failure: no producer, no workers, every node running for the next run and for 'down'.
            await stopProducing.CancelAsync();
            await producer;
            await environment.StopWorkersAsync();
            if (killed is { } node)
            {
                await cluster.StartNodeAsync(node, TimeSpan.FromSeconds(120));
            }
        }
    }

    /// <summary>The 1-based node holding <paramref name="workerId"/>'s connection (the worker names its connection after itself).</summary>
    private static async Task<int> NodeOfAsync(RabbitCluster cluster, string workerId)
    {
        using var api = cluster.Management(1);
        string? node = null;
        if (!await Poll.UntilAsync(async () =>
            {
                node = (await api.ConnectionsAsync()).FirstOrDefault(c => c.Name == workerId).Node;
                return node is not null;
            }, TimeSpan.FromSeconds(30)))
        {
            throw new InvalidOperationException($"{Name}: no connection named {workerId} on the cluster");
        }

        return RabbitCluster.NodeNumber(node!);
    }

    private static async Task<long> ErrorQueueDepthAsync(RabbitManagement api)
    {
        long depth = 0;
        foreach (var queue in ErrorQueues)
        {
            depth += await api.QueueDepthAsync("/", queue) ?? 0;
        }

        return depth;
    }

    /// <summary>A job every 100 ms until stopped, alternately submitted (row + outbox, published by a relay) and published as plain JSON.</summary>
    private static async Task ProduceAsync(BenchEnvironment environment, RabbitManagement api, string tag, ConcurrentDictionary<Guid, DateTimeOffset> published, CancellationToken stop)
    {
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var id = Guid.NewGuid();
            var at = DateTimeOffset.UtcNow;
            if (n % 2 == 0)
            {
                await environment.Store.SubmitAsync(new JobRequested
                {
                    JobId = id,
                    Stage = "synthetic",
                    OutputKey = $"{tag}/{n}.json",
                    Parameters = new Dictionary<string, string> { ["durationMs"] = "300", ["steps"] = "3" },
                }, 3, CancellationToken.None);
            }
            else
            {
                at = await PublishUntilAcceptedAsync(api, SyntheticTrace.RequestBody(id, $"{tag}/{n}.json", 300));
            }

            published[id] = at;
            try
            {
                await Task.Delay(100, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>While the cluster elects new queue leaders a publish may be refused; a producer sends it again (a duplicate at worst).</summary>
    private static async Task<DateTimeOffset> PublishUntilAcceptedAsync(RabbitManagement api, string body)
    {
        for (var attempt = 1; ; attempt++)
        {
            var at = DateTimeOffset.UtcNow;
            try
            {
                await api.PublishToQueueAsync("/", "consumers.jobs", body);
                return at;
            }
            catch (HttpRequestException) when (attempt < 100)
            {
                await Task.Delay(200);
            }
        }
    }
}

/// <summary>
/// One node loss: the node killed, seconds from the kill to the first <c>started</c> of a job published after it
/// (null: not within the bound), jobs produced, messages in the error queues, failed or twice-completed jobs, jobs lost.
/// </summary>
public sealed record BrokerRun(int KilledNode, double? ResumeSeconds, int Jobs, long ErrorQueueMessages, long FailedJobs, long LostJobs);
