using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Control;

namespace Consumers.IntegrationTests.Control;

/// <summary>Pause and resume on the real stack: a paused stage is held on every worker while other stages run; resume releases it.</summary>
public sealed class PauseTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_paused_stage_is_held_on_two_workers_while_other_stages_run_and_resume_releases_it_once()
    {
        var a = await env.StartWorkerAsync("worker-a");
        var b = await env.StartWorkerAsync("worker-b");
        var running = TestEnvironment.SyntheticJob("out/running.json", ("durationMs", "4000"));
        await env.Store.SubmitAsync(running, 3, CancellationToken.None);
        await Eventually.WaitAsync(async () => (await env.JobAsync(running.JobId))?.Status == JobStatuses.Processing,
            TimeSpan.FromSeconds(30), () => "the first job never started");

        var (exit, output, error) = await Cli.RunAsync(env, "pause", "synthetic", "--reason", "bad build", "--by", "carol");
        Assert.True(exit == 0, output + error);
        await Eventually.WaitAsync(() => Task.FromResult(a.Get<StagePauses>().IsPaused("synthetic") && b.Get<StagePauses>().IsPaused("synthetic")),
            TimeSpan.FromSeconds(5), () => "a worker did not see the pause");

        var held = Enumerable.Range(0, 6).Select(i => TestEnvironment.SyntheticJob($"out/held-{i}.json")).ToList();
        foreach (var job in held)
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        env.CreateMediaFile("in/clip.bin", 4096);
        var others = Enumerable.Range(0, 4).Select(i => TestEnvironment.ManifestJob("in/clip.bin", $"out/manifest-{i}.json")).ToList();
        foreach (var job in others)
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        // Other stages run, and the job that was running when the pause came finishes.
        foreach (var job in others.Append(running))
        {
            Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(60))).Status);
        }

        // Every held request reached a worker and was parked, none started.
        await Eventually.WaitAsync(async () => await env.Rabbit.QueueDepthAsync(env.VirtualHost, "consumers.jobs.paused.synthetic") == held.Count,
            TimeSpan.FromSeconds(30), () => "the held jobs were not parked");
        foreach (var job in held)
        {
            var row = await env.JobAsync(job.JobId);
            Assert.Equal(JobStatuses.Queued, row!.Status);
            Assert.Equal(0, row.AttemptCount);
        }

        Assert.Equal(1, await env.CountAsync("SELECT count(*) FROM operator_actions WHERE action = 'pause' AND target = 'synthetic' AND by = 'carol'"));
        var (listExit, listOutput, _) = await Cli.RunAsync(env, "pauses");
        Assert.Equal(0, listExit);
        Assert.Contains("carol", listOutput, StringComparison.Ordinal);

        (exit, output, error) = await Cli.RunAsync(env, "resume", "synthetic");
        Assert.True(exit == 0, output + error);

        foreach (var job in held)
        {
            Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(60))).Status);
            Assert.Single(await env.TimelineAsync(job.JobId), e => e.Type == TimelineEventTypes.Started);
        }

        await Eventually.WaitAsync(async () => await env.Rabbit.QueueDepthAsync(env.VirtualHost, "consumers.jobs.paused.synthetic") == 0,
            TimeSpan.FromSeconds(30), () => "the parking queue kept messages after the resume");
        await env.AssertAllTimelinesValidAsync();
    }
}
