using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Timeline;
using Consumers.Testing.Faults;
using Xunit.Abstractions;

namespace Consumers.IntegrationTests.Faults;

/// <summary>
/// A worker with no job running whose path to PostgreSQL goes silent (a half-open partition through a
/// <see cref="TcpFaultProxy"/>) still takes deliveries from RabbitMQ: its acquire must not sit on them until Npgsql
/// gives up (about 19 s). Past <c>Consumers:Database:AcquireTimeout</c> (3 s by default) it hands the delivery back
/// uncharged and closes its intake at once; another worker starts the job. An abandoned acquire that reaches
/// PostgreSQL after the heal runs nothing here.
/// </summary>
public sealed partial class SilentAcquireFaultTests(ITestOutputHelper output) : IAsyncLifetime
{
    // A hang guard, not a speed target: far above the bound (3 s) plus a redelivery on a busy machine, below the
    // ~19 s that the acquire waited for Npgsql before the bound existed.
    private static readonly TimeSpan HandBackGuard = TimeSpan.FromSeconds(16);
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
    public async Task Deliveries_a_cut_off_worker_takes_go_back_at_once_and_another_worker_starts_them()
    {
        // The rescuer starts first, so it holds the relay and the sweep; the cut-off worker holds no cluster role.
        await using var rescuer = await env.StartWorkerProcessAsync(Rescuer, Traced());
        var cutOff = await env.StartWorkerProcessAsync(CutOff, CutOffSettings());

        proxy.Blackhole();
        var publishedAt = new Dictionary<Guid, DateTimeOffset>();
        for (var i = 0; i < 6; i++)
        {
            // Straight to the queue: RabbitMQ spreads them over both consumers, so the cut-off worker takes some.
            var jobId = Guid.NewGuid();
            publishedAt[jobId] = DateTimeOffset.UtcNow;
            await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", SyntheticTrace.RequestBody(jobId, $"silent/{jobId}.json", durationMs: 500));
        }

        // The cut-off worker gave up on its acquires and closed its intake without waiting for two probe timeouts.
        await Eventually.WaitAsync(async () => MetricValue(await cutOff.ScrapeAsync(), "acquire_timeouts_total") >= 1,
            TimeSpan.FromSeconds(30), () => "the cut-off worker never abandoned an acquire");
        await FaultChecks.WaitForDatabaseAvailableAsync(cutOff, 0, TimeSpan.FromSeconds(10));

        await FaultChecks.AssertAllSucceededOnceAsync(env, publishedAt.Keys, TimeSpan.FromSeconds(60));
        // The hand-back line can reach the log after the counter moved and the rescuer finished: wait for it.
        await Eventually.WaitAsync(() => Task.FromResult(AbandonedAcquires(cutOff).Any(publishedAt.ContainsKey)),
            TimeSpan.FromSeconds(10), () => $"the cut-off worker logged no hand-back of a published job; log:\n{cutOff.ReadLog()}");
        var handedBack = AbandonedAcquires(cutOff).Where(publishedAt.ContainsKey).ToList();
        foreach (var jobId in publishedAt.Keys)
        {
            var timeline = await env.TimelineAsync(jobId);
            // One attempt, uncharged by the hand-back, on the worker that reaches PostgreSQL; never requeued by the sweep.
            var started = Assert.Single(timeline, e => e.Type == TimelineEventTypes.Started);
            Assert.Equal(1, started.Attempt);
            Assert.Equal(Rescuer, Field(started, "worker"));
            Assert.DoesNotContain(timeline, e => e.Type == TimelineEventTypes.Requeued);
            Assert.Single(ReadTrace(jobId), t => t.Step == "start");
            if (handedBack.Contains(jobId))
            {
                var wait = started.OccurredAt - publishedAt[jobId];
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"job {jobId}: handed back by the cut-off worker, started on the rescuer {wait.TotalSeconds:F2}s after it was published"));
                Assert.True(wait < HandBackGuard, $"job {jobId} started {wait.TotalSeconds:F1}s after it was published: its delivery sat on the cut-off worker");
            }
        }

        // Healed: held bytes (the abandoned statements among them) reach PostgreSQL and change nothing; the worker takes work again.
        var reopenings = FaultChecks.IntakeReopenings(cutOff);
        proxy.Heal();
        await FaultChecks.WaitForDatabaseAvailableAsync(cutOff, 1, TimeSpan.FromSeconds(30));
        await FaultChecks.WaitForIntakeReopenedAsync(cutOff, reopenings, TimeSpan.FromSeconds(30));
        var later = Enumerable.Range(0, 6).Select(_ => Guid.NewGuid()).ToList();
        foreach (var jobId in later)
        {
            await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", SyntheticTrace.RequestBody(jobId, $"later/{jobId}.json", durationMs: 500));
        }

        await FaultChecks.AssertAllSucceededOnceAsync(env, [.. publishedAt.Keys, .. later], TimeSpan.FromSeconds(60));
        var startedOnCutOff = 0;
        foreach (var jobId in later)
        {
            startedOnCutOff += (await env.TimelineAsync(jobId)).Count(e => e.Type == TimelineEventTypes.Started && Field(e, "worker") == CutOff);
        }

        Assert.True(startedOnCutOff > 0, "the healed worker took none of the new jobs");
        foreach (var jobId in publishedAt.Keys)
        {
            Assert.Single(await env.TimelineAsync(jobId), e => e.Type == TimelineEventTypes.Started);
        }
    }

    [Fact]
    public async Task An_abandoned_acquire_that_reaches_PostgreSQL_after_the_heal_never_runs_the_job()
    {
        // Alone on the queue, so the cut-off worker takes the job; nobody else can run it until the heal.
        var cutOff = await env.StartWorkerProcessAsync(CutOff, CutOffSettings());
        proxy.Blackhole();
        var jobId = Guid.NewGuid();
        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", SyntheticTrace.RequestBody(jobId, $"landed/{jobId}.json", durationMs: 500));
        await Eventually.WaitAsync(() => Task.FromResult(AbandonedAcquires(cutOff).Contains(jobId)),
            TimeSpan.FromSeconds(30), () => "the cut-off worker never abandoned the job's acquire");
        await FaultChecks.WaitForDatabaseAvailableAsync(cutOff, 0, TimeSpan.FromSeconds(10));

        // The held statement is delivered now and may lease the row to an attempt that does not exist; the rescuer's
        // sweep then requeues it when that lease times out. Either way the job runs exactly once.
        proxy.Heal();
        await using var rescuer = await env.StartWorkerProcessAsync(Rescuer, Traced());
        await FaultChecks.AssertAllSucceededOnceAsync(env, [jobId], TimeSpan.FromSeconds(60));

        var timeline = await env.TimelineAsync(jobId);
        output.WriteLine($"timeline: {string.Join(", ", timeline.Select(e => $"{e.Type}#{e.Attempt}({Field(e, "worker") ?? Field(e, "reason")})"))}");
        var ran = Assert.Single(ReadTrace(jobId), t => t.Step == "start");
        var completed = Assert.Single(timeline, e => e.Type == TimelineEventTypes.Completed);
        Assert.Equal(ran.Attempt, completed.Attempt);
        // Any other `started` can only come from the abandoned statement (the healed worker may run a later attempt
        // itself): that lease belonged to no running attempt (no trace), and the sweep gave the job back when it timed out.
        foreach (var phantom in timeline.Where(e => e.Type == TimelineEventTypes.Started && e.Attempt != ran.Attempt))
        {
            Assert.Equal(CutOff, Field(phantom, "worker"));
            Assert.Contains(timeline, e => e.Type == TimelineEventTypes.Requeued && e.Seq > phantom.Seq && Field(e, "reason") == "stale");
        }
    }

    private Dictionary<string, string?> Traced() => new() { ["Consumers:Synthetic:TraceDirectory"] = traceDirectory };

    // No relay, no sweep: the cut-off worker's only contact with PostgreSQL is its deliveries' acquires and its loops.
    private Dictionary<string, string?> CutOffSettings() => new()
    {
        ["Consumers:Database:ConnectionString"] = proxy.Route(env.ConnectionString),
        ["Consumers:Outbox:Enabled"] = "false",
        ["Consumers:Recovery:Enabled"] = "false",
        ["Consumers:Flow:ConcurrentJobs"] = "3",
        ["Consumers:Synthetic:TraceDirectory"] = traceDirectory,
    };

    private IReadOnlyList<SyntheticTrace> ReadTrace(Guid jobId) => SyntheticTrace.Read(traceDirectory, jobId);

    /// <summary>Jobs whose acquire the worker abandoned, from its log (the hand-back line names the job).</summary>
    private static HashSet<Guid> AbandonedAcquires(WorkerProcess worker) =>
        [.. AbandonedLine().Matches(worker.ReadLog()).Select(m => Guid.Parse(m.Groups[1].Value))];

    [GeneratedRegex("the acquire of job ([0-9a-f-]{36}) got no answer")]
    private static partial Regex AbandonedLine();

    private static double MetricValue(string scrape, string name) =>
        scrape.Split('\n')
            .Where(l => l.StartsWith(name, StringComparison.Ordinal) && (l.Length == name.Length || l[name.Length] is ' ' or '{'))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));

    private static string? Field(JobEventRecord e, string name) =>
        JsonDocument.Parse(e.Data).RootElement.TryGetProperty(name, out var value) ? value.GetString() : null;
}
