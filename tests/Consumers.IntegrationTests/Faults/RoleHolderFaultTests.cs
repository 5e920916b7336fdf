using System.Diagnostics;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Cluster;
using Consumers.Runtime.Outbox;
using Consumers.Runtime.Recovery;
using Consumers.Testing.Faults;
using Npgsql;
using Xunit.Abstractions;

namespace Consumers.IntegrationTests.Faults;

/// <summary>
/// SIGSTOP, or a half-open partition from PostgreSQL, of the workers that hold the cluster's roles (the outbox relay lease, the recovery sweep and Quartz's
/// cluster lock): the others take over within the lease and the sweep interval, nothing is lost or run twice, and
/// the frozen relay steps down when it wakes. Default lease settings (job lease 10 s, sweep 2 s, relay lease 6 s).
/// </summary>
public sealed class RoleHolderFaultTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan JobLease = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(2);

    // Declared before the bound that reads it: static fields are set in order.
    private static readonly OutboxOptions RelayDefaults = new();

    /// <summary>
    /// A frozen relay holder's lease runs out at most a lease duration after the freeze, and a standby tries every
    /// standby interval, each try bounded by the statement timeout; 2 s more for this test's polling on a busy machine.
    /// </summary>
    private static readonly TimeSpan RelayReplaced = RelayDefaults.LeaseDuration + RelayDefaults.StandbyInterval + RelayDefaults.LeaseStatementTimeout
                                                     + TimeSpan.FromSeconds(2);

    /// <summary>The promise for a frozen or killed worker's job: it starts elsewhere within lease + sweep + 5 s.</summary>
    private static readonly TimeSpan RestartBound = JobLease + SweepInterval + TimeSpan.FromSeconds(5);

    private TestEnvironment env = null!;
    private ClusterLeaseStore leases = null!;

    public async Task InitializeAsync()
    {
        env = await TestEnvironment.CreateAsync();
        leases = new ClusterLeaseStore(env.DataSource);
    }

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_frozen_relay_holder_with_a_running_job_is_replaced_its_job_restarts_elsewhere_and_it_steps_down_when_it_wakes()
    {
        // The first worker leads the relay and, alone, takes the long job: it holds both when it freezes.
        var holder = await env.StartWorkerProcessAsync("relay-a");
        var (_, firstGeneration) = await WaitForRelayHolderAsync(["relay-a"]);
        // Long enough to be still running once the other two workers are up on a busy machine.
        var longJob = SyntheticJob("frozen/long.json", durationMs: 30000);
        await env.Store.SubmitAsync(longJob, 3, CancellationToken.None);
        await Eventually.WaitAsync(async () => (await env.JobAsync(longJob.JobId)) is { Status: JobStatuses.Processing, LeaseOwner: "relay-a" },
            TimeSpan.FromSeconds(60), () => "relay-a never started the long job");
        var others = await Task.WhenAll(env.StartWorkerProcessAsync("relay-b"), env.StartWorkerProcessAsync("relay-c"));
        await using var b = others[0];
        await using var c = others[1];
        Assert.True(await env.JobAsync(longJob.JobId) is { Status: JobStatuses.Processing, LeaseOwner: "relay-a" }, "the long job ended before the freeze");

        holder.Freeze();
        var frozen = Stopwatch.StartNew();
        var shortJobs = Enumerable.Range(0, 6).Select(i => SyntheticJob($"frozen/short-{i}.json", durationMs: 300)).ToList();
        foreach (var job in shortJobs)
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        var (newHolder, newGeneration) = await WaitForRelayHolderAsync(["relay-b", "relay-c"], TimeSpan.FromSeconds(60));
        var takeover = frozen.Elapsed;
        await Eventually.WaitAsync(async () => (await env.JobAsync(longJob.JobId)) is { Status: JobStatuses.Processing, LeaseOwner: "relay-b" or "relay-c" },
            TimeSpan.FromSeconds(60), () => "the frozen worker's job never started elsewhere");
        var restarted = frozen.Elapsed;
        output.WriteLine($"relay lease: generation {firstGeneration} -> {newGeneration} ({newHolder}) {takeover.TotalSeconds:F1}s after the freeze; " +
                         $"the frozen worker's job started elsewhere after {restarted.TotalSeconds:F1}s");
        Assert.True(newGeneration > firstGeneration);
        Assert.True(takeover <= RelayReplaced, $"relay taken over after {takeover.TotalSeconds:F1}s, more than {RelayReplaced.TotalSeconds}s");
        Assert.True(restarted <= RestartBound, $"the frozen worker's job started elsewhere after {restarted.TotalSeconds:F1}s, more than {RestartBound.TotalSeconds}s");

        foreach (var job in shortJobs.Append(longJob))
        {
            Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(90))).Status);
        }

        // Thawed, the old holder finds its lease gone by its own clock and says so; it does not lead again.
        holder.Thaw();
        await Eventually.WaitAsync(() => Task.FromResult(holder.ReadLog().Contains("Outbox relay stepped down", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), () => "the thawed relay holder never logged that it stepped down");
        var scraped = "";
        await Eventually.WaitAsync(async () => System.Text.RegularExpressions.Regex.IsMatch(scraped = await holder.ScrapeAsync(), @"(?m)^outbox_relay_leader(\{[^}]*\})? 0(\s|$)"),
            TimeSpan.FromSeconds(30), () => "the thawed worker still reports that it leads the relay: " +
                                            string.Join(" | ", scraped.Split('\n').Where(l => l.Contains("outbox_relay", StringComparison.Ordinal))));
        Assert.Equal(newGeneration, (await leases.ReadAsync(OutboxRelay.LeaseName, default))!.Value.Generation);

        var timeline = await env.TimelineAsync(longJob.JobId);
        Assert.Contains(timeline, e => e.Type == TimelineEventTypes.Requeued);
        Assert.Equal("relay-a", Worker(timeline.First(e => e.Type == TimelineEventTypes.Started)));
        await AssertNothingLostOrRunTwiceAsync(shortJobs.Append(longJob));
        await Eventually.WaitAsync(async () => await env.CountAsync("SELECT count(*) FROM outbox_messages") == 0,
            TimeSpan.FromSeconds(30), () => "the outbox never emptied");
    }

    [Fact]
    public async Task A_frozen_quartz_lock_holder_and_a_frozen_relay_holder_do_not_stop_a_killed_workers_job_from_restarting()
    {
        // The victim runs no relay and takes the job alone, published straight to the queue; then the relay holder
        // and a survivor join.
        var noRelay = new Dictionary<string, string?> { ["Consumers:Outbox:Enabled"] = "false" };
        var victim = await env.StartWorkerProcessAsync("victim", noRelay);
        var job = SyntheticJob("killed/long.json", durationMs: 40000);
        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", JsonSerializer.Serialize(job, Runtime.ContractJson.Options));
        await Eventually.WaitAsync(async () => (await env.JobAsync(job.JobId)) is { Status: JobStatuses.Processing, LeaseOwner: "victim" },
            TimeSpan.FromSeconds(60), () => "the victim never started the job");
        await using var relayHolder = await env.StartWorkerProcessAsync("holder");
        await WaitForRelayHolderAsync(["holder"]);
        await using var survivor = await env.StartWorkerProcessAsync("survivor");

        // A scheduler session frozen inside its transaction while it holds both of Quartz's cluster locks (what a
        // SIGSTOP between Quartz's lock and its commit leaves), on a connection set up exactly as Quartz's are.
        var frozenQuartz = new NpgsqlConnection(RecoveryServiceCollectionExtensions.QuartzConnectionString(env.ConnectionString, new RecoveryOptions()));
        await frozenQuartz.OpenAsync();
        var transaction = await frozenQuartz.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand("SELECT count(*) FROM (SELECT lock_name FROM qrtz_locks FOR UPDATE) l", frozenQuartz, transaction))
        {
            Assert.Equal(2L, await take.ExecuteScalarAsync());
        }

        Assert.True(await env.JobAsync(job.JobId) is { Status: JobStatuses.Processing, LeaseOwner: "victim" }, "the job ended before the kill");
        relayHolder.Freeze();
        await victim.KillAsync();
        var killed = Stopwatch.StartNew();

        await Eventually.WaitAsync(async () => (await env.JobAsync(job.JobId)) is { Status: JobStatuses.Processing, LeaseOwner: "survivor" },
            TimeSpan.FromSeconds(60), () => "the killed worker's job never started on the survivor");
        var restarted = killed.Elapsed;
        var succeeded = await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(90));
        output.WriteLine($"killed worker's job started on the survivor {restarted.TotalSeconds:F1}s after the kill, " +
                         $"with the relay holder frozen and Quartz's locks held by a frozen session");
        Assert.Equal(JobStatuses.Succeeded, succeeded.Status);
        Assert.True(restarted <= RestartBound, $"the job restarted after {restarted.TotalSeconds:F1}s, more than {RestartBound.TotalSeconds}s");

        // PostgreSQL ended the frozen scheduler's session (idle in transaction), which is what freed the lock.
        await using (var probe = new NpgsqlCommand("SELECT 1", frozenQuartz, transaction))
        {
            var ended = await Assert.ThrowsAnyAsync<Exception>(() => probe.ExecuteScalarAsync());
            output.WriteLine("the frozen scheduler session: " + ended.Message);
        }

        await DisposeBrokenAsync(frozenQuartz);

        relayHolder.Thaw();
        await Eventually.WaitAsync(() => Task.FromResult(relayHolder.ReadLog().Contains("Outbox relay stepped down", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), () => "the thawed relay holder never logged that it stepped down");
        await AssertNothingLostOrRunTwiceAsync([job]);
    }

    // Closing a connection the server has ended reports the server's reason again; it is closed all the same.
    [Fact]
    public async Task A_relay_holder_cut_off_from_PostgreSQL_is_replaced_and_steps_down_after_the_heal()
    {
        // The holder reaches PostgreSQL through a proxy that will go silent without closing (a half-open partition):
        // its session, its LISTEN and its lease renewals all hang instead of failing.
        await using var proxy = TcpFaultProxy.ForPostgres(env.ConnectionString);
        var holder = await env.StartWorkerProcessAsync("relay-a", new Dictionary<string, string?>
        {
            ["Consumers:Database:ConnectionString"] = proxy.Route(env.ConnectionString),
        });
        var (_, firstGeneration) = await WaitForRelayHolderAsync(["relay-a"]);
        await using var standby = await env.StartWorkerProcessAsync("relay-b");

        proxy.Blackhole();
        var cut = Stopwatch.StartNew();
        var jobs = Enumerable.Range(0, 6).Select(i => SyntheticJob($"partitioned/{i}.json", durationMs: 300)).ToList();
        foreach (var job in jobs)
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        var (newHolder, newGeneration) = await WaitForRelayHolderAsync(["relay-b"], TimeSpan.FromSeconds(60));
        var takeover = cut.Elapsed;
        foreach (var job in jobs)
        {
            Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(60))).Status);
        }

        var published = cut.Elapsed;
        output.WriteLine($"relay lease: generation {firstGeneration} -> {newGeneration} ({newHolder}) {takeover.TotalSeconds:F1}s after the cut; " +
                         $"all {jobs.Count} jobs submitted meanwhile completed after {published.TotalSeconds:F1}s");
        Assert.True(takeover <= RelayReplaced, $"relay taken over after {takeover.TotalSeconds:F1}s, more than {RelayReplaced.TotalSeconds}s");

        // Healed, the old holder has long known by its own clock that the lease may be gone: it says so and does not lead again.
        proxy.Heal();
        await Eventually.WaitAsync(() => Task.FromResult(holder.ReadLog().Contains("Outbox relay stepped down", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), () => "the partitioned relay holder never logged that it stepped down");
        Assert.Equal(newGeneration, (await leases.ReadAsync(OutboxRelay.LeaseName, default))!.Value.Generation);
        await AssertNothingLostOrRunTwiceAsync(jobs);
    }

    private static async Task DisposeBrokenAsync(NpgsqlConnection connection)
    {
        try
        {
            await connection.DisposeAsync();
        }
        catch (PostgresException)
        {
        }
    }

    private async Task<(string Holder, long Generation)> WaitForRelayHolderAsync(string[] workers, TimeSpan? timeout = null)
    {
        (string Holder, long Generation) found = default;
        await Eventually.WaitAsync(async () =>
        {
            var row = await leases.ReadAsync(OutboxRelay.LeaseName, default);
            var worker = row is { Held: true } ? workers.FirstOrDefault(w => row.Value.Holder.StartsWith(w + "/", StringComparison.Ordinal)) : null;
            found = worker is null ? default : (worker, row!.Value.Generation);
            return worker is not null;
        }, timeout ?? TimeSpan.FromSeconds(60), () => $"none of {string.Join(", ", workers)} took the relay lease");
        return found;
    }

    private async Task AssertNothingLostOrRunTwiceAsync(IEnumerable<JobRequested> jobs)
    {
        foreach (var job in jobs)
        {
            var row = await env.JobAsync(job.JobId);
            Assert.Equal(JobStatuses.Succeeded, row!.Status);
            var timeline = await env.TimelineAsync(job.JobId);
            Assert.Single(timeline, e => e.Type is TimelineEventTypes.Completed or TimelineEventTypes.Skipped);
        }

        await env.AssertAllTimelinesValidAsync();
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM jobs WHERE status = 'failed'"));
        Assert.True((await env.Rabbit.QueueDepthAsync(env.VirtualHost, "consumers.jobs_error") ?? 0) == 0, "valid jobs reached consumers.jobs_error");
    }

    private static JobRequested SyntheticJob(string outputKey, int durationMs) => new()
    {
        JobId = Guid.NewGuid(),
        Stage = "synthetic",
        OutputKey = outputKey,
        Parameters = new Dictionary<string, string> { ["durationMs"] = durationMs.ToString(System.Globalization.CultureInfo.InvariantCulture), ["steps"] = "4" },
    };

    private static string? Worker(Runtime.Timeline.JobEventRecord started) =>
        JsonDocument.Parse(started.Data).RootElement.GetProperty("worker").GetString();

}
