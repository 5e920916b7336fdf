using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.IntegrationTests.Pipelines;
using Consumers.Runtime;

namespace Consumers.IntegrationTests.Faults;

/// <summary>
/// SIGKILL of real worker processes at each boundary of a pipeline: during a step, right after a step's commit (before
/// anything could publish its dependents' requests: every worker is killed then), and during the last step. Nothing is
/// lost (the pipeline completes, every step once), nothing runs twice (one completion per step, each step dispatched once).
/// </summary>
public sealed class PipelineCrashFaultTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    public enum Boundary { DuringFirstStep, AfterFirstCommit, DuringLastStep }

    [Theory]
    [InlineData(Boundary.DuringFirstStep)]
    [InlineData(Boundary.AfterFirstCommit)]
    [InlineData(Boundary.DuringLastStep)]
    public async Task A_pipeline_survives_workers_killed_at_a_boundary_and_runs_each_step_once(Boundary boundary)
    {
        var workers = new List<WorkerProcess> { await env.StartWorkerProcessAsync("pipe-a"), await env.StartWorkerProcessAsync("pipe-b") };
        var request = new PipelineRequested
        {
            PipelineId = Guid.NewGuid(),
            Steps =
            [
                PipelineKit.Synthetic("a", "crash/a.json", 3000),
                PipelineKit.Synthetic("b", "crash/b.json", 2000, "a"),
                PipelineKit.Synthetic("c", "crash/c.json", 2000, "a"),
                PipelineKit.Synthetic("d", "crash/d.json", 3000, "b", "c"),
            ],
        };
        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, ContractNames.PipelineQueue, JsonSerializer.Serialize(request, ContractJson.Options));
        await Eventually.WaitAsync(async () => (await env.StepsAsync(request.PipelineId)).Count == 4, TimeSpan.FromSeconds(60), () => "the pipeline was never registered");
        var steps = (await env.StepsAsync(request.PipelineId)).ToDictionary(s => s.Name, s => s.JobId);

        switch (boundary)
        {
            case Boundary.DuringFirstStep:
                await KillHolderAsync(workers, steps["a"]);
                break;
            case Boundary.DuringLastStep:
                await KillHolderAsync(workers, steps["d"]);
                break;
            case Boundary.AfterFirstCommit:
                await Eventually.WaitAsync(async () => (await env.JobAsync(steps["a"]))?.Status == JobStatuses.Succeeded,
                    TimeSpan.FromSeconds(60), () => "step a never succeeded");
                // Everyone at once: whatever of b's and c's requests was not yet published must come from the outbox.
                foreach (var worker in workers.ToList())
                {
                    await worker.KillAsync();
                    workers.Remove(worker);
                }

                break;
        }

        workers.Add(await env.StartWorkerProcessAsync("pipe-r"));
        var pipeline = await env.WaitForPipelineAsync(request.PipelineId, TimeSpan.FromSeconds(110));

        Assert.Equal("succeeded", pipeline.Status);
        Assert.Equal(4, await env.CountAsync($"SELECT count(*) FROM jobs WHERE pipeline_id = '{request.PipelineId}' AND status = 'succeeded'"));
        Assert.Equal(0, await env.CountAsync(
            "SELECT count(*) FROM (SELECT job_id FROM job_events WHERE type IN ('completed', 'skipped') GROUP BY job_id HAVING count(*) > 1) twice"));
        Assert.Equal(4, await env.CountAsync(
            $"SELECT count(*) FROM pipeline_events WHERE pipeline_id = '{request.PipelineId}' AND type = '{PipelineEventTypes.StepDispatched}'"));
        Assert.True((await env.Rabbit.QueueDepthAsync(env.VirtualHost, "consumers.jobs_error") ?? 0) == 0, "a step went to consumers.jobs_error");
        if (boundary != Boundary.AfterFirstCommit)
        {
            // The kill did land mid-step: the killed attempt was recovered and the step ran again to its only completion.
            var killed = steps[boundary == Boundary.DuringFirstStep ? "a" : "d"];
            Assert.Contains(await env.TimelineAsync(killed), e => e.Type == TimelineEventTypes.Requeued);
        }

        await env.AssertTimelinesValidAsync(request.PipelineId);
    }

    private async Task KillHolderAsync(List<WorkerProcess> workers, Guid jobId)
    {
        WorkerProcess? victim = null;
        await Eventually.WaitAsync(async () =>
        {
            var job = await env.JobAsync(jobId);
            victim = job?.Status == JobStatuses.Processing && job.ProgressPercent > 0 ? workers.FirstOrDefault(w => w.WorkerId == job.LeaseOwner) : null;
            return victim is not null;
        }, TimeSpan.FromSeconds(90), () => $"no worker was seen running job {jobId}");
        await victim!.KillAsync();
        workers.Remove(victim);
    }
}
