using System.Globalization;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Timeline;
using Consumers.Testing.Faults;
using Xunit.Abstractions;

namespace Consumers.IntegrationTests.Faults;

/// <summary>
/// A plain worker (no relay, no sweep) whose path to PostgreSQL goes silent without closing: a half-open partition
/// made with a <see cref="TcpFaultProxy"/> between it and the shared server. It must stop its attempts before their
/// leases can expire (no overlap with the attempts another worker starts), lose and misfile nothing, and take work
/// again once the path heals. Default lease settings: 10 s lease, 2 s beats, fence at 80 %.
/// </summary>
public sealed class PartitionFaultTests(ITestOutputHelper output) : IAsyncLifetime
{
    // Both workers write their traces on this machine's clock; this covers the time between the work stopping and
    // the trace line being written, nothing else.
    private static readonly TimeSpan ClockAllowance = TimeSpan.FromMilliseconds(100);
    private const string CutOff = "cut-off";
    private const string Rescuer = "rescuer";

    private TestEnvironment env = null!;
    private TcpFaultProxy proxy = null!;
    private string traceDirectory = null!;

    public async Task InitializeAsync()
    {
        env = await TestEnvironment.CreateAsync();
        proxy = TcpFaultProxy.ForPostgres(env.ConnectionString);
        traceDirectory = Path.Combine(env.LogRoot, "traces");
    }

    public async Task DisposeAsync()
    {
        await env.DisposeAsync();
        await proxy.DisposeAsync();
    }

    [Fact]
    public async Task A_worker_cut_off_from_PostgreSQL_stops_its_jobs_before_another_starts_them_and_works_again_after_the_heal()
    {
        // The rescuer starts first, so it leads the outbox relay; the cut-off worker holds no cluster role at all
        // (a partitioned role holder is another test's fault): no relay, no sweep, three slots.
        await using var rescuer = await env.StartWorkerProcessAsync(Rescuer, new Dictionary<string, string?>
        {
            ["Consumers:Synthetic:TraceDirectory"] = traceDirectory,
        });
        var cutOff = await env.StartWorkerProcessAsync(CutOff, new Dictionary<string, string?>
        {
            ["Consumers:Database:ConnectionString"] = proxy.Route(env.ConnectionString),
            ["Consumers:Outbox:Enabled"] = "false",
            ["Consumers:Recovery:Enabled"] = "false",
            ["Consumers:Flow:ConcurrentJobs"] = "3",
            ["Consumers:Synthetic:TraceDirectory"] = traceDirectory,
        });
        // Published straight to the queue (a producer may); the broker spreads them over both workers.
        var jobs = Enumerable.Range(0, 8).Select(_ => Guid.NewGuid()).ToList();
        foreach (var jobId in jobs)
        {
            await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", SyntheticTrace.RequestBody(jobId, $"partition/{jobId}.json", durationMs: 15_000));
        }

        // Cut it off while all three of its slots are mid-job.
        const string heldByCutOff = $"FROM jobs WHERE status = 'processing' AND lease_owner = '{CutOff}' AND progress_percent >= 6";
        await Eventually.WaitAsync(async () => await env.CountAsync("SELECT count(*) " + heldByCutOff) == 3,
            TimeSpan.FromSeconds(60), () => "the cut-off worker never ran three jobs at once");
        proxy.Blackhole();
        var silentAt = DateTimeOffset.UtcNow;
        var cutJobs = await JobIdsAsync("SELECT id " + heldByCutOff);
        Assert.Equal(3, cutJobs.Count);

        // Every job finishes once; those that were cut off finish on the rescuer after the sweep requeued them.
        foreach (var jobId in jobs)
        {
            var job = await env.WaitForTerminalAsync(jobId, TimeSpan.FromSeconds(90));
            Assert.Equal(JobStatuses.Succeeded, job.Status);
            Assert.Single(await env.TimelineAsync(jobId), e => e.Type == TimelineEventTypes.Completed);
        }

        foreach (var jobId in cutJobs)
        {
            var timeline = await env.TimelineAsync(jobId);
            Assert.Equal(Rescuer, Worker(timeline.Last(e => e.Type == TimelineEventTypes.Started)));
            Assert.Contains(timeline, e => e.Type == TimelineEventTypes.Requeued && Field(e, "reason") == "stale");
        }

        // The cut-off attempt's work ended before its successor's began.
        foreach (var jobId in cutJobs)
        {
            var trace = ReadTrace(jobId);
            var cut = Assert.Single(trace, t => t.Step == "end" && t.Attempt == 1);
            Assert.Equal("cancelled", cut.Outcome);
            var successor = trace.Where(t => t.Step == "start" && t.Attempt > 1).MinBy(t => t.At);
            Assert.NotNull(successor);
            var overlap = cut.At - successor.At;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"job {jobId}: fenced {(cut.At - silentAt).TotalSeconds:F2}s after the path went silent, successor started at {(successor.At - silentAt).TotalSeconds:F2}s, overlap {overlap.TotalSeconds:F2}s"));
            Assert.True(overlap <= ClockAllowance,
                $"job {jobId}: the cut-off attempt still worked {overlap.TotalMilliseconds:F0} ms after attempt {successor.Attempt} started");
        }

        var scrape = await cutOff.ScrapeAsync();
        Assert.True(MetricValue(scrape, "self_fenced_jobs_total") >= cutJobs.Count, "the cut-off worker did not count its self-fenced jobs");
        Assert.NotEqual("Healthy", await ReadinessAsync(cutOff));

        // Healed: the intake reopens with nothing left running there, and the worker takes new work.
        var reopenings = FaultChecks.IntakeReopenings(cutOff);
        proxy.Heal();
        await Eventually.WaitAsync(async () => await ReadinessAsync(cutOff) == "Healthy",
            TimeSpan.FromSeconds(30), () => "the cut-off worker did not become Ready again after the heal");
        await FaultChecks.WaitForIntakeReopenedAsync(cutOff, reopenings, TimeSpan.FromSeconds(30));
        var later = Enumerable.Range(0, 8).Select(_ => Guid.NewGuid()).ToList();
        foreach (var jobId in later)
        {
            await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", SyntheticTrace.RequestBody(jobId, $"later/{jobId}.json", durationMs: 1_000));
        }

        var startedOnCutOff = 0;
        foreach (var jobId in later)
        {
            Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(jobId, TimeSpan.FromSeconds(60))).Status);
            startedOnCutOff += (await env.TimelineAsync(jobId)).Count(e => e.Type == TimelineEventTypes.Started && Worker(e) == CutOff);
        }

        Assert.True(startedOnCutOff > 0, "the healed worker took none of the new jobs");
        await env.AssertAllTimelinesValidAsync();
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM jobs WHERE status <> 'succeeded'"));
        Assert.True((await env.Rabbit.QueueDepthAsync(env.VirtualHost, "consumers.jobs_error") ?? 0) == 0, "messages in consumers.jobs_error");
    }

    private async Task<List<Guid>> JobIdsAsync(string sql)
    {
        await using var command = env.DataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<Guid>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }

    private IReadOnlyList<SyntheticTrace> ReadTrace(Guid jobId) => SyntheticTrace.Read(traceDirectory, jobId);

    private static async Task<string> ReadinessAsync(Testing.Workers.WorkerProcess worker)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            // The body is JSON: {"status":"Healthy","checks":{...}}.
            var body = await http.GetStringAsync(new Uri($"http://127.0.0.1:{worker.MetricsPort}/health/ready"));
            return JsonDocument.Parse(body).RootElement.GetProperty("status").GetString() ?? body;
        }
        catch (HttpRequestException ex)
        {
            // 503 while PostgreSQL does not answer.
            return ex.StatusCode?.ToString() ?? ex.Message;
        }
        catch (TaskCanceledException)
        {
            return "no answer";
        }
    }

    private static double MetricValue(string scrape, string name) =>
        scrape.Split('\n')
            .Where(l => l.StartsWith(name, StringComparison.Ordinal) && (l.Length == name.Length || l[name.Length] is ' ' or '{'))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));

    private static string? Worker(JobEventRecord started) => Field(started, "worker");

    private static string? Field(JobEventRecord e, string name) =>
        JsonDocument.Parse(e.Data).RootElement.TryGetProperty(name, out var value) ? value.GetString() : null;
}
