using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Jobs;
using Consumers.Testing.Faults;

namespace Consumers.IntegrationTests.Faults;

/// <summary>
/// A poison job (it kills the worker process that runs it) among innocent ones, on real worker processes that a
/// supervisor restarts when they die. Its first crash takes the jobs beside it down, but costs them no attempt;
/// from then on it runs alone, so no other job dies with it, and with the defaults it is quarantined at its third
/// crash. Nothing is lost, run twice or dead-lettered.
/// </summary>
public sealed class PoisonFaultTests : IAsyncLifetime
{
    private static readonly Dictionary<string, string?> AllowCrash = new() { ["Consumers:Worker:AllowCrashParameter"] = "true" };

    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_poison_job_is_quarantined_after_three_crashes_and_no_innocent_job_fails_or_is_charged()
    {
        // One worker first, so the poison's first run certainly shares it with innocent jobs.
        await using var workers = await RestartingWorkers.StartAsync(1, "poison", id => env.StartWorkerProcessAsync(id, AllowCrash));
        var neighbours = Enumerable.Range(0, 6).Select(i => Synthetic($"neighbour/{i}.json", ("durationMs", "8000"), ("steps", "8"))).ToList();
        foreach (var job in neighbours)
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        await Eventually.WaitAsync(async () => await env.CountAsync("SELECT count(*) FROM jobs WHERE status = 'processing'") == neighbours.Count,
            TimeSpan.FromSeconds(60), () => "the neighbours never all ran at once");
        var poison = Synthetic("poison.json", ("durationMs", "300"), ("crashProcess", "true"));
        await env.Store.SubmitAsync(poison, 3, CancellationToken.None);
        await Eventually.WaitAsync(() => Task.FromResult(workers.Died.Count == 1), TimeSpan.FromSeconds(60), () => "the poison never crashed its worker");

        // More workers to go round, and more innocent work arriving while the poison and its victims are suspects.
        await workers.AddAsync();
        await workers.AddAsync();
        var latecomers = Enumerable.Range(0, 6).Select(i => Synthetic($"late/{i}.json", ("durationMs", "3000"), ("steps", "3"))).ToList();
        foreach (var job in latecomers)
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        var quarantined = await env.WaitForTerminalAsync(poison.JobId, TimeSpan.FromSeconds(150));
        Assert.Equal(JobStatuses.Failed, quarantined.Status);
        Assert.Equal(ErrorCodes.Quarantined, quarantined.LastErrorCode);
        Assert.Equal(3, quarantined.LeaseExpiryCount);
        Assert.Equal(3, workers.Died.Count);
        var poisonTimeline = await env.TimelineAsync(poison.JobId);
        Assert.Equal(3, poisonTimeline.Count(e => e.Type == TimelineEventTypes.Started));
        Assert.Equal(TimelineEventTypes.Quarantined, poisonTimeline[^1].Type);

        foreach (var job in neighbours.Concat(latecomers))
        {
            var row = await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(120));
            Assert.Equal(JobStatuses.Succeeded, row.Status);
            // Succeeded on its first counted attempt: a death beside the poison is not charged.
            Assert.Equal(1, row.AttemptCount - row.UnchargedAttempts);
            Assert.Equal(1, (await env.TimelineAsync(job.JobId)).Count(e => e.Type == TimelineEventTypes.Completed));
        }

        // The first crash took the neighbours down once; after it the poison ran alone and killed nobody else.
        Assert.All(await RowsAsync(neighbours), row => Assert.Equal(1, row.LeaseExpiryCount));
        Assert.All(await RowsAsync(latecomers), row => Assert.Equal((1, 0), (row.AttemptCount, row.LeaseExpiryCount)));
        Assert.Equal(neighbours.Count + latecomers.Count, Directory.EnumerateFiles(env.ArtifactRoot, "*.json", SearchOption.AllDirectories)
            .Count(f => !f.Contains("/.", StringComparison.Ordinal)));
        Assert.True((await env.Rabbit.QueueDepthAsync(env.VirtualHost, "consumers.jobs_error") ?? 0) == 0, "a delivery reached consumers.jobs_error");
        await env.AssertAllTimelinesValidAsync();
    }

    private async Task<List<JobRecord>> RowsAsync(IEnumerable<JobRequested> jobs)
    {
        var rows = new List<JobRecord>();
        foreach (var job in jobs)
        {
            rows.Add((await env.JobAsync(job.JobId))!);
        }

        return rows;
    }

    private static JobRequested Synthetic(string outputKey, params (string Key, string Value)[] parameters) =>
        TestEnvironment.SyntheticJob(outputKey, parameters);
}
