using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Testing.Faults;
using Xunit.Abstractions;

namespace Consumers.IntegrationTests.Faults;

/// <summary>
/// Issue 13, "the broker as users run it": a private three-node RabbitMQ cluster with quorum job queues, two worker
/// processes configured with every node, a steady stream of jobs (half submitted through the outbox, half published
/// as plain JSON by a producer on a live node), and SIGKILL of the node the workers are connected to. Consumption must
/// resume on the live nodes, health must say not-ready meanwhile, and nothing may be lost, run twice or dead-lettered.
/// </summary>
public sealed class BrokerNodeLossFaultTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan ClusterStartBound = TimeSpan.FromSeconds(150);

    /// <summary>A hang guard: without the cluster settings the workers never consume again while the node stays dead.</summary>
    private static readonly TimeSpan ResumeBound = TimeSpan.FromSeconds(30);

    private TestEnvironment env = null!;
    private RabbitCluster? cluster;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync()
    {
        // Workers first (they would only reconnect in vain), then every node and its folder, also after a failure.
        await env.DisposeAsync();
        if (cluster is not null)
        {
            await cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task Losing_the_workers_broker_node_moves_them_to_a_live_node_with_nothing_lost_or_run_twice()
    {
        cluster = await RabbitCluster.StartAsync(env.LogRoot, ClusterStartBound);
        var settings = new Dictionary<string, string?>
        {
            ["Consumers:RabbitMq:VirtualHost"] = "/",
            ["Consumers:RabbitMq:QueueType"] = "quorum",
            ["Consumers:Flow:ConcurrentJobs"] = "4",
        };
        for (var i = 0; i < cluster.Nodes.Count; i++)
        {
            settings[$"Consumers:RabbitMq:Nodes:{i}"] = cluster.Nodes[i];
        }

        var workers = await Task.WhenAll(
            env.StartWorkerProcessAsync("node-loss-a", settings),
            env.StartWorkerProcessAsync("node-loss-b", settings));

        // Where the workers sit: the management API names each connection after its worker.
        var target = await NodeOfAsync(workers[0].WorkerId, anyLiveNode: 1);
        var onTarget = new List<WorkerProcess>();
        foreach (var worker in workers)
        {
            if (await NodeOfAsync(worker.WorkerId, anyLiveNode: 1) == target)
            {
                onTarget.Add(worker);
            }
        }

        var producerNode = Enumerable.Range(1, cluster.Size).First(n => n != target);
        output.WriteLine($"workers on node {target}: {string.Join(", ", onTarget.Select(w => w.WorkerId))}; producer on node {producerNode}");

        using var producerApi = cluster.Management(producerNode);
        var published = new ConcurrentDictionary<Guid, DateTimeOffset>();
        using var stopProducing = new CancellationTokenSource();
        var producer = Task.Run(() => ProduceAsync(producerApi, published, stopProducing.Token));

        await Eventually.WaitAsync(async () => await env.CountAsync("SELECT count(*) FROM jobs WHERE status = 'succeeded'") >= 10,
            TimeSpan.FromSeconds(60), () => "the workers did not finish 10 jobs before the fault");

        using var stopPolling = new CancellationTokenSource();
        var polls = onTarget.ToDictionary(w => w.WorkerId, _ => new ConcurrentQueue<(HttpStatusCode Status, string Body)>());
        var pollers = onTarget.Select(w => Task.Run(() => PollReadinessAsync(w, polls[w.WorkerId], stopPolling.Token))).ToList();
        await Task.Delay(300);

        await cluster.KillNodeAsync(target);
        // After the script returns the VM is gone (it waits for the pid): anything published from now on went through a live node.
        var killedAt = DateTimeOffset.UtcNow;

        // Time to consume again: from the kill to the first start of a job that was published after it.
        var clock = Stopwatch.StartNew();
        DateTimeOffset? resumedAt = null;
        await Eventually.WaitAsync(async () =>
        {
            var after = published.Where(p => p.Value > killedAt).Select(p => p.Key).ToArray();
            resumedAt = after.Length == 0 ? null : await FirstStartAsync(after);
            return resumedAt is not null;
        }, ResumeBound, () => $"no job published after the kill of node {target} started within {ResumeBound.TotalSeconds:F0}s");
        var timeToConsume = resumedAt!.Value - killedAt;
        output.WriteLine($"time to consume again after the kill of node {target}: {timeToConsume.TotalSeconds:F2}s (noticed after {clock.Elapsed.TotalSeconds:F1}s)");

        // Every worker that was on the lost node is ready again once it consumes from a live one.
        foreach (var worker in onTarget)
        {
            await Eventually.WaitAsync(async () => polls[worker.WorkerId].LastOrDefault().Status == HttpStatusCode.OK,
                ResumeBound, () => $"{worker.WorkerId} did not report ready again: {polls[worker.WorkerId].LastOrDefault().Body}");
        }

        await Task.Delay(TimeSpan.FromSeconds(3));
        await stopProducing.CancelAsync();
        await producer;
        await stopPolling.CancelAsync();
        await Task.WhenAll(pollers);

        foreach (var worker in onTarget)
        {
            var notReady = polls[worker.WorkerId].Where(p => p.Status == HttpStatusCode.ServiceUnavailable).ToList();
            Assert.True(notReady.Count > 0, $"{worker.WorkerId} never reported not-ready while its node was gone");
            Assert.Contains(notReady, p => p.Body.Contains("not consuming from RabbitMQ", StringComparison.Ordinal));
            output.WriteLine($"{worker.WorkerId}: {notReady.Count} not-ready answers, e.g. {notReady[0].Body}");
        }

        // Every job published or submitted, before, during and after the loss, finishes exactly once.
        foreach (var jobId in published.Keys)
        {
            Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(jobId, TimeSpan.FromSeconds(90))).Status);
        }

        output.WriteLine($"{published.Count} jobs, all succeeded");
        Assert.True(published.Count >= 30, $"the producer managed only {published.Count} jobs");
        Assert.Equal(0, await env.CountAsync(
            "SELECT count(*) FROM (SELECT job_id FROM job_events WHERE type = 'completed' GROUP BY job_id HAVING count(*) > 1) twice"));
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM jobs WHERE status = 'failed'"));
        Assert.Equal(published.Count, await env.CountAsync("SELECT count(*) FROM jobs"));
        await env.AssertAllTimelinesValidAsync();
        using var live = cluster.Management(producerNode);
        foreach (var queue in new[] { "consumers.jobs_error", "consumers.jobs.transcode_error" })
        {
            Assert.True((await live.QueueDepthAsync("/", queue) ?? 0) == 0, $"{queue} is not empty");
        }
    }

    /// <summary>The 1-based node holding <paramref name="workerId"/>'s connection, asked of node <paramref name="anyLiveNode"/>.</summary>
    private async Task<int> NodeOfAsync(string workerId, int anyLiveNode)
    {
        using var api = cluster!.Management(anyLiveNode);
        string? node = null;
        await Eventually.WaitAsync(async () =>
        {
            node = (await api.ConnectionsAsync()).FirstOrDefault(c => c.Name == workerId).Node;
            return node is not null;
        }, TimeSpan.FromSeconds(30), () => $"no connection named {workerId} on the cluster");
        return RabbitCluster.NodeNumber(node!);
    }

    /// <summary>A job every 100 ms, alternately submitted (row + outbox, published by a worker's relay) and published as plain JSON.</summary>
    private async Task ProduceAsync(RabbitManagement api, ConcurrentDictionary<Guid, DateTimeOffset> published, CancellationToken stop)
    {
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var job = TestEnvironment.SyntheticJob($"node-loss/{n}.json", ("durationMs", "300"), ("steps", "3"));
            var at = DateTimeOffset.UtcNow;
            if (n % 2 == 0)
            {
                await env.Store.SubmitAsync(job, 3, CancellationToken.None);
            }
            else
            {
                var body = "{\"jobId\":\"" + job.JobId + "\",\"stage\":\"synthetic\",\"outputKey\":\"" + job.OutputKey +
                           "\",\"parameters\":{\"durationMs\":\"300\",\"steps\":\"3\"}}";
                at = await PublishUntilAcceptedAsync(api, body);
            }

            published[job.JobId] = at;
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

    /// <summary>
    /// As a producer does: while the cluster elects new queue leaders a publish may be refused (the management API
    /// answers 400); the same message is sent again, so a refusal that was in fact delivered only makes a duplicate.
    /// Returns when it was accepted.
    /// </summary>
    private async Task<DateTimeOffset> PublishUntilAcceptedAsync(RabbitManagement api, string body)
    {
        for (var attempt = 1; ; attempt++)
        {
            var at = DateTimeOffset.UtcNow;
            try
            {
                await api.PublishToQueueAsync("/", "consumers.jobs", body);
                return at;
            }
            catch (HttpRequestException ex) when (attempt < 100)
            {
                output.WriteLine($"publish refused at {at:HH:mm:ss.fff} ({ex.Message}); sending again");
                await Task.Delay(200);
            }
        }
    }

    private async Task<DateTimeOffset?> FirstStartAsync(Guid[] jobIds)
    {
        await using var command = env.DataSource.CreateCommand("SELECT min(occurred_at) FROM job_events WHERE type = 'started' AND job_id = ANY(@ids)");
        command.Parameters.AddWithValue("ids", jobIds);
        return await command.ExecuteScalarAsync() is DateTime at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : null;
    }

    private static async Task PollReadinessAsync(WorkerProcess worker, ConcurrentQueue<(HttpStatusCode, string)> answers, CancellationToken stop)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var ready = new Uri($"http://127.0.0.1:{worker.MetricsPort.ToString(CultureInfo.InvariantCulture)}/health/ready");
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var response = await http.GetAsync(ready, stop);
                answers.Enqueue((response.StatusCode, await response.Content.ReadAsStringAsync(stop)));
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }

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
}
