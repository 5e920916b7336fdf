using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;
using Consumers.Contracts;
using Consumers.Runtime.Cluster;
using Consumers.Runtime.Outbox;
using Consumers.Testing.Faults;

namespace Consumers.Bench.Sections.Faults;

/// <summary>
/// The worker that holds the outbox relay lease freezes (SIGSTOP) or its path to PostgreSQL goes silent (a
/// <see cref="TcpFaultProxy"/>); a standby worker must take a new lease generation, and a job submitted through
/// the outbox right after the fault (so only a relay can publish it) must start. Afterwards the old holder is woken
/// or healed and must not lead again. Runs in an environment of its own: its relay lease is the only one.
/// </summary>
public sealed class RelayHolderFaults
{
    public static readonly IReadOnlyList<RelayHolderFaults> All =
    [
        new("relay holder frozen (SIGSTOP)", partition: false),
        new("relay holder partitioned from PostgreSQL", partition: true),
    ];

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    private readonly bool partition;

    private RelayHolderFaults(string name, bool partition)
    {
        Name = name;
        this.partition = partition;
    }

    public string Name { get; }

    public static async Task MeasureAsync(BenchContext context, SectionResult result)
    {
        await using var environment = await BenchEnvironment.CreateAsync(context.Options.MaxAutoPrepare);
        var leases = new ClusterLeaseStore(environment.DataSource);
        foreach (var fault in All)
        {
            var runs = new List<RelayFaultRun>();
            for (var run = 1; run <= context.Options.FaultRuns; run++)
            {
                var outcome = await fault.RunOnceAsync(environment, leases, run);
                runs.Add(outcome);
                Progress.Line(string.Create(CultureInfo.InvariantCulture,
                    $"faults {fault.Name} {run}/{context.Options.FaultRuns}: lease taken over {outcome.LeaseTakeoverSeconds:F1}s, job started {outcome.JobStartedSeconds:F1}s, " +
                    $"old holder led again {outcome.OldHolderLedAgain}, error queue {outcome.ErrorQueueMessages}, failed {outcome.FailedJobs}, lost {outcome.LostJobs}"));
            }

            Report(result, fault.Name, runs);
        }
    }

    private async Task<RelayFaultRun> RunOnceAsync(BenchEnvironment environment, ClusterLeaseStore leases, int run)
    {
        var tag = string.Create(CultureInfo.InvariantCulture, $"relay-{(partition ? "partition" : "freeze")}-{run}");
        await using var proxy = TcpFaultProxy.ForPostgres(environment.WorkerConnectionString);
        var holderSettings = new Dictionary<string, string?>();
        if (partition)
        {
            holderSettings["Consumers:Database:ConnectionString"] = proxy.Route(environment.WorkerConnectionString);
        }

        // The holder starts alone, so it takes the lease; the standby joins once it holds it.
        var holder = await environment.StartWorkerAsync("holder-" + tag, 4, holderSettings);
        try
        {
            long firstGeneration = 0;
            if (!await Poll.UntilAsync(async () =>
                {
                    var row = await leases.ReadAsync(OutboxRelay.LeaseName, default);
                    firstGeneration = row?.Generation ?? 0;
                    return row is { Held: true } && row.Value.Holder.StartsWith(holder.WorkerId + "/", StringComparison.Ordinal);
                }, TimeSpan.FromSeconds(60)))
            {
                throw new InvalidOperationException($"{Name}: {holder.WorkerId} never took the relay lease");
            }

            var standby = await environment.StartWorkerAsync("standby-" + tag, 4);
            await Task.Delay(1000);
            var faultAt = DateTime.UtcNow;
            if (partition)
            {
                proxy.Blackhole();
            }
            else
            {
                holder.Freeze();
            }

            // Submitted right after the fault: its JobRequested sits in the outbox until a live relay publishes it.
            var job = new JobRequested
            {
                JobId = Guid.NewGuid(),
                Stage = "synthetic",
                OutputKey = tag + "/after-fault.json",
                Parameters = new Dictionary<string, string> { ["durationMs"] = "300", ["steps"] = "3" },
            };
            await environment.Store.SubmitAsync(job, 3, CancellationToken.None);
            var deadBefore = await environment.Rabbit.QueueDepthAsync(environment.VirtualHost, "consumers.jobs_error") ?? 0;

            double? leaseTakeover = null;
            long newGeneration = 0;
            await Poll.UntilAsync(async () =>
            {
                var row = await leases.ReadAsync(OutboxRelay.LeaseName, default);
                if (row is { Held: true } && row.Value.Generation > firstGeneration && row.Value.Holder.StartsWith(standby.WorkerId + "/", StringComparison.Ordinal))
                {
                    leaseTakeover = (DateTime.UtcNow - faultAt).TotalSeconds;
                    newGeneration = row.Value.Generation;
                    return true;
                }

                return false;
            }, Bound);
            await Poll.UntilAsync(async () => await environment.ScalarAsync<long>(
                "SELECT count(*) FROM jobs WHERE id = @id AND status IN ('succeeded', 'failed')", ("id", job.JobId)) == 1, Bound);
            DateTime? started = null;
            await environment.QueryAsync("SELECT min(occurred_at) FROM job_events WHERE job_id = @id AND type = 'started'",
                r => started = r.IsDBNull(0) ? null : r.GetDateTime(0), ("id", job.JobId));

            // Woken or healed, the old holder must find its lease gone and leave the new generation alone.
            if (partition)
            {
                proxy.Heal();
            }
            else
            {
                holder.Thaw();
            }

            await Task.Delay(TimeSpan.FromSeconds(8));
            var now = await leases.ReadAsync(OutboxRelay.LeaseName, default);
            // A run that was never taken over is counted as such above, not here.
            var ledAgain = newGeneration != 0 && (now is not { } lease || lease.Generation != newGeneration);

            var failed = await environment.ScalarAsync<long>("SELECT count(*) FROM jobs WHERE id = @id AND status <> 'succeeded'", ("id", job.JobId));
            var twice = await environment.ScalarAsync<long>("SELECT count(*) FROM job_events WHERE job_id = @id AND type = 'completed'", ("id", job.JobId));
            var rows = await environment.ScalarAsync<long>("SELECT count(*) FROM jobs WHERE id = @id", ("id", job.JobId));
            var dead = (await environment.Rabbit.QueueDepthAsync(environment.VirtualHost, "consumers.jobs_error") ?? 0) - deadBefore;
            return new RelayFaultRun(
                leaseTakeover,
                started is null ? null : (started.Value.ToUniversalTime() - faultAt).TotalSeconds,
                ledAgain,
                dead,
                failed + Math.Max(0, twice - 1),
                1 - rows);
        }
        finally
        {
            // Also after a failure: a frozen process would hold its SIGTERM until woken.
            proxy.Heal();
            holder.Thaw();
            await environment.StopWorkersAsync();
        }
    }

    private static void Report(SectionResult result, string fault, List<RelayFaultRun> runs)
    {
        FaultFigures.Takeover(result, $"{fault}: lease takeover", runs.Select(r => r.LeaseTakeoverSeconds).ToList(), "runs never taken over");
        FaultFigures.Takeover(result, $"{fault}: job submitted after the fault started", runs.Select(r => r.JobStartedSeconds).ToList(), "runs whose job never started");
        result.Add($"{fault}: old holder led again", runs.Count(r => r.OldHolderLedAgain), "runs").WithTarget("0", v => v == 0);
        FaultFigures.Losses(result, fault, runs.Sum(r => r.ErrorQueueMessages), runs.Sum(r => r.FailedJobs + r.LostJobs));
    }
}

/// <summary>
/// One relay-holder fault: seconds from the fault to a new lease generation held by the standby, and to the
/// <c>started</c> of a job submitted right after the fault; whether the old holder's generation came back; losses.
/// </summary>
public sealed record RelayFaultRun(double? LeaseTakeoverSeconds, double? JobStartedSeconds, bool OldHolderLedAgain, long ErrorQueueMessages, long FailedJobs, long LostJobs);
