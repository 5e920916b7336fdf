using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Timeline;

namespace Consumers.IntegrationTests.Recovery;

/// <summary>
/// Real worker processes killed with SIGKILL, frozen with SIGSTOP, and killed on every attempt (no job is
/// lost, none runs twice). Default lease and sweep settings: recovery must take seconds.
/// </summary>
public sealed class CrashTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task Jobs_survive_workers_killed_mid_job_more_than_once_and_each_artifact_is_committed_by_one_attempt()
    {
        var workers = new List<WorkerProcess>
        {
            await env.StartWorkerProcessAsync("crash-a"),
            await env.StartWorkerProcessAsync("crash-b"),
        };
        var jobs = Enumerable.Range(0, 8).Select(i => new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "synthetic",
            OutputKey = $"crash/{i}.json",
            Parameters = new Dictionary<string, string> { ["durationMs"] = "4000", ["steps"] = "8" },
        }).ToList();
        foreach (var job in jobs)
        {
            await env.Store.SubmitAsync(job, 5, CancellationToken.None);
        }

        var killed = new List<string>();
        for (var round = 0; round < 2; round++)
        {
            // Kill whichever worker holds a running job, mid-job, then bring up a replacement.
            var victim = await WaitForWorkerHoldingAJobAsync(workers);
            await victim.KillAsync();
            killed.Add(victim.WorkerId);
            workers.Remove(victim);
            workers.Add(await env.StartWorkerProcessAsync($"crash-r{round}"));
        }

        foreach (var job in jobs)
        {
            Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(180))).Status);
        }

        var recoveredJobs = 0;
        foreach (var job in jobs)
        {
            var timeline = await env.TimelineAsync(job.JobId);
            Assert.Single(timeline, e => e.Type is TimelineEventTypes.Completed or TimelineEventTypes.Skipped);
            Assert.Empty(TimelineChecker.Check(job.JobId, timeline));
            var requeued = timeline.Where(e => e.Type == TimelineEventTypes.Requeued).ToList();
            foreach (var r in requeued)
            {
                Assert.Equal("stale", JsonDocument.Parse(r.Data).RootElement.GetProperty("reason").GetString());
                var next = timeline.First(e => e.Seq > r.Seq && e.Type == TimelineEventTypes.Started);
                Assert.Equal(r.Attempt + 1, next.Attempt);
            }

            recoveredJobs += requeued.Count > 0 ? 1 : 0;
            var artifact = await File.ReadAllBytesAsync(Path.Combine(env.ArtifactRoot, job.OutputKey));
            Assert.Equal((await env.JobAsync(job.JobId))!.ArtifactSha256, Convert.ToHexStringLower(SHA256.HashData(artifact)));
        }

        Assert.True(recoveredJobs >= 2, $"expected jobs of the killed workers {string.Join(", ", killed)} to be recovered, saw {recoveredJobs}");
        foreach (var worker in workers)
        {
            await worker.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_frozen_attempt_resumed_after_a_takeover_changes_nothing()
    {
        await using var zombie = await env.StartWorkerProcessAsync("zombie");
        var job = new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "synthetic",
            OutputKey = "zombie.json",
            Parameters = new Dictionary<string, string> { ["durationMs"] = "6000", ["steps"] = "6" },
        };
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        await Eventually.WaitAsync(async () => (await env.JobAsync(job.JobId))?.LeaseOwner == "zombie",
            TimeSpan.FromSeconds(60), () => "the zombie never started the job");
        zombie.Freeze();

        await using var rescuer = await env.StartWorkerProcessAsync("rescuer");
        var finished = await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(120));
        Assert.Equal(JobStatuses.Succeeded, finished.Status);
        var path = Path.Combine(env.ArtifactRoot, "zombie.json");
        var before = (File.GetLastWriteTimeUtc(path), Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(path))));

        zombie.Thaw();
        // The zombie's heartbeat or its commit discovers the lost lease; wait until it says so.
        // (The counter is exported at 0 from the start: only a non-zero value says anything.)
        await Eventually.WaitAsync(async () => Regex.IsMatch(await zombie.ScrapeAsync(), @"(?m)^leases_lost_total(\{[^}]*\})? [1-9]")
                                               || zombie.ReadLog().Contains("lost its lease", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60), () => "the zombie did not notice it lost its lease");
        await Task.Delay(TimeSpan.FromSeconds(3));

        var after = await env.JobAsync(job.JobId);
        Assert.Equal(JobStatuses.Succeeded, after!.Status);
        Assert.Equal(finished.LastEventSeq, after.LastEventSeq);
        Assert.Equal(finished.ArtifactSha256, after.ArtifactSha256);
        Assert.Equal(before, (File.GetLastWriteTimeUtc(path), Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(path)))));
        var timeline = await env.TimelineAsync(job.JobId);
        Assert.Equal(TimelineEventTypes.Completed, timeline[^1].Type);
        Assert.Equal("rescuer", JsonDocument.Parse(timeline.Last(e => e.Type == TimelineEventTypes.Started).Data).RootElement.GetProperty("worker").GetString());
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task A_job_whose_worker_dies_on_every_attempt_is_quarantined_at_the_third_death()
    {
        // Lease expiries are counted apart from attempts: the first is not charged (a neighbour may have killed the
        // worker), the later ones ran alone, and the third sets the job aside (QuarantineAfterLeaseExpiries = 3).
        var job = new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "synthetic",
            OutputKey = "doomed.json",
            MaxAttempts = 3,
            Parameters = new Dictionary<string, string> { ["durationMs"] = "120000" },
        };
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);

        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var worker = await env.StartWorkerProcessAsync($"doomed-{attempt}");
            await Eventually.WaitAsync(async () => (await env.JobAsync(job.JobId)) is { Status: JobStatuses.Processing } row && row.AttemptCount == attempt,
                TimeSpan.FromSeconds(120), () => $"attempt {attempt} never started");
            await worker.KillAsync();
            await worker.DisposeAsync();
        }

        // Someone has to run the sweep: a worker that will never see this job again, because it is set aside.
        await using var sweeper = await env.StartWorkerProcessAsync("sweeper");
        var failed = await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(120));

        Assert.Equal(JobStatuses.Failed, failed.Status);
        Assert.Equal(ErrorCodes.Quarantined, failed.LastErrorCode);
        Assert.Equal(3, failed.AttemptCount);
        Assert.Equal(3, failed.LeaseExpiryCount);
        var timeline = await env.TimelineAsync(job.JobId);
        Assert.Equal(3, timeline.Count(e => e.Type == TimelineEventTypes.Started));
        Assert.Equal(TimelineEventTypes.Quarantined, timeline[^1].Type);
        await env.AssertAllTimelinesValidAsync();
    }

    private async Task<WorkerProcess> WaitForWorkerHoldingAJobAsync(List<WorkerProcess> workers)
    {
        WorkerProcess? victim = null;
        await Eventually.WaitAsync(async () =>
        {
            await using var command = env.DataSource.CreateCommand(
                "SELECT lease_owner FROM jobs WHERE status = 'processing' AND progress_percent BETWEEN 10 AND 70 LIMIT 1");
            var owner = await command.ExecuteScalarAsync() as string;
            victim = workers.FirstOrDefault(w => w.WorkerId == owner);
            return victim is not null;
        }, TimeSpan.FromSeconds(120), () => "no worker was seen mid-job");
        return victim!;
    }
}
