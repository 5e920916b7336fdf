using System.Diagnostics;
using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Testing.Faults;

namespace Consumers.Bench.Sections.Faults;

/// <summary>
/// A worker that holds no cluster role (no relay, no sweep) is running jobs when it freezes (SIGSTOP) or its path to
/// PostgreSQL goes silent (a <see cref="TcpFaultProxy"/> that stops forwarding); a rescuer worker that leads the relay
/// and the sweep must take the jobs over. One run: victim, jobs, rescuer, fault, successors, then the victim is woken
/// or healed (its late attempt must change nothing) and stopped.
/// </summary>
public sealed class PlainWorkerFaults
{
    public const int VictimJobs = 2;
    public const int JobMilliseconds = 20_000;

    public static readonly IReadOnlyList<PlainWorkerFaults> All =
    [
        new("worker frozen (SIGSTOP)", partition: false),
        new("worker partitioned from PostgreSQL", partition: true),
    ];

    private readonly bool partition;

    private PlainWorkerFaults(string name, bool partition)
    {
        Name = name;
        this.partition = partition;
    }

    public string Name { get; }

    /// <summary>A frozen process does no work, so only a partition can overlap.</summary>
    public bool MeasuresOverlap => partition;

    public async Task<FaultRun> RunOnceAsync(BenchEnvironment environment, int run)
    {
        var tag = string.Create(CultureInfo.InvariantCulture, $"{(partition ? "partition" : "freeze")}-{run}");
        var traces = Path.Combine(environment.LogRoot, "traces-" + tag);
        await using var proxy = TcpFaultProxy.ForPostgres(environment.WorkerConnectionString);
        var victimSettings = new Dictionary<string, string?>
        {
            ["Consumers:Outbox:Enabled"] = "false",
            ["Consumers:Recovery:Enabled"] = "false",
            ["Consumers:Synthetic:TraceDirectory"] = traces,
        };
        if (partition)
        {
            victimSettings["Consumers:Database:ConnectionString"] = proxy.Route(environment.WorkerConnectionString);
        }

        // The victim starts alone, so the jobs published to the queue are all its own.
        var victim = await environment.StartWorkerAsync("victim-" + tag, VictimJobs, victimSettings);
        var jobs = Enumerable.Range(0, VictimJobs).Select(_ => Guid.NewGuid()).ToList();
        foreach (var jobId in jobs)
        {
            await environment.Rabbit.PublishToQueueAsync(environment.VirtualHost, "consumers.jobs", SyntheticTrace.RequestBody(jobId, $"{tag}/{jobId}.json", JobMilliseconds));
        }

        if (!await WaitAsync(async () => await environment.ScalarAsync<long>(
                "SELECT count(*) FROM jobs WHERE id = ANY(@ids) AND status = 'processing' AND lease_owner = @owner",
                ("ids", jobs.ToArray()), ("owner", victim.WorkerId)) == VictimJobs, TimeSpan.FromSeconds(60)))
        {
            throw new InvalidOperationException($"{Name}: the victim never held its {VictimJobs} jobs");
        }

        var rescuer = await environment.StartWorkerAsync("rescuer-" + tag, 4, new Dictionary<string, string?>
        {
            ["Consumers:Synthetic:TraceDirectory"] = traces,
        });
        await Task.Delay(1000);
        var faultAt = DateTime.UtcNow;
        if (partition)
        {
            proxy.Blackhole();
        }
        else
        {
            victim.Freeze();
        }

        await WaitAsync(async () => await environment.ScalarAsync<long>(
            "SELECT count(*) FROM jobs WHERE id = ANY(@ids) AND status IN ('succeeded', 'failed')", ("ids", jobs.ToArray())) == VictimJobs,
            TimeSpan.FromSeconds(120));
        var takeover = await TakeoverAsync(environment, jobs, faultAt);

        // Let the victim come back: its late attempt must find its lease gone and change nothing.
        if (partition)
        {
            proxy.Heal();
        }
        else
        {
            victim.Thaw();
        }

        await Task.Delay(TimeSpan.FromSeconds(5));
        var overlap = partition ? WorstOverlap(traces, jobs) : null;
        await victim.StopAsync(TimeSpan.FromSeconds(15));
        await rescuer.StopAsync(TimeSpan.FromSeconds(15));

        var failed = await environment.ScalarAsync<long>("SELECT count(*) FROM jobs WHERE id = ANY(@ids) AND status <> 'succeeded'", ("ids", jobs.ToArray()));
        var twice = await environment.ScalarAsync<long>(
            "SELECT count(*) FROM (SELECT job_id FROM job_events WHERE job_id = ANY(@ids) AND type = 'completed' GROUP BY job_id HAVING count(*) > 1) d",
            ("ids", jobs.ToArray()));
        var rows = await environment.ScalarAsync<long>("SELECT count(*) FROM jobs WHERE id = ANY(@ids)", ("ids", jobs.ToArray()));
        var dead = await environment.Rabbit.QueueDepthAsync(environment.VirtualHost, "consumers.jobs_error") ?? 0;
        return new FaultRun(takeover, overlap, dead, failed + twice, VictimJobs - rows);
    }

    private static async Task<double?> TakeoverAsync(BenchEnvironment environment, List<Guid> jobs, DateTime faultAt)
    {
        DateTime? first = null;
        await environment.QueryAsync(
            "SELECT min(occurred_at) FROM job_events WHERE job_id = ANY(@ids) AND type = 'started' AND attempt > 1",
            r => first = r.IsDBNull(0) ? null : r.GetDateTime(0), ("ids", jobs.ToArray()));
        return first is null ? null : (first.Value.ToUniversalTime() - faultAt).TotalSeconds;
    }

    /// <summary>The largest (victim stop − successor start) over the jobs, from the synthetic stage's trace files.</summary>
    private static double? WorstOverlap(string traces, List<Guid> jobs)
    {
        double? worst = null;
        foreach (var jobId in jobs)
        {
            var lines = SyntheticTrace.Read(traces, jobId);
            var victimEnd = lines.Where(l => l.Step == "end" && l.Attempt == 1).Select(l => (DateTimeOffset?)l.At).Max();
            var successorStart = lines.Where(l => l.Step == "start" && l.Attempt > 1).Select(l => (DateTimeOffset?)l.At).Min();
            if (victimEnd is { } end && successorStart is { } start)
            {
                var overlap = (end - start).TotalSeconds;
                worst = worst is null ? overlap : Math.Max(worst.Value, overlap);
            }
        }

        return worst;
    }

    private static async Task<bool> WaitAsync(Func<Task<bool>> condition, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < bound)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(200);
        }

        return false;
    }
}
