using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using MassTransit;

namespace Consumers.IntegrationTests.Foundation;

/// <summary>The same JobRequested delivered more than once runs the stage once.</summary>
public sealed class DuplicateDeliveryTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_message_delivered_again_after_the_job_finished_changes_nothing()
    {
        using var metrics = new MetricProbe();
        var worker = await env.StartWorkerAsync();
        env.CreateMediaFile("dup.bin", 2048);
        var request = TestEnvironment.ManifestJob("dup.bin", "dup.json");
        var bus = worker.Get<IBus>();

        await bus.Publish(request);
        var first = await env.WaitForTerminalAsync(request.JobId);
        var artifact = new FileInfo(Path.Combine(env.ArtifactRoot, "dup.json"));
        var writtenAt = artifact.LastWriteTimeUtc;

        await bus.Publish(request);
        await metrics.WaitForAsync("duplicate_skips", 1);

        var second = await env.JobAsync(request.JobId);
        Assert.Equal(first.LastEventSeq, second!.LastEventSeq);
        Assert.Equal(1, second.AttemptCount);
        Assert.Equal(writtenAt, new FileInfo(artifact.FullName).LastWriteTimeUtc);
        Assert.Equal(3, (await env.TimelineAsync(request.JobId)).Count);
    }

    [Fact]
    public async Task Twenty_concurrent_copies_run_the_stage_once()
    {
        using var metrics = new MetricProbe();
        var worker = await env.StartWorkerAsync(overrides: new Dictionary<string, string?> { ["Consumers:Flow:ConcurrentJobs"] = "20" });
        var request = new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "synthetic",
            OutputKey = "copies/one.json",
            // Long enough that the copies arrive while the first one still runs.
            Parameters = new Dictionary<string, string> { ["durationMs"] = "1500" },
        };
        var bus = worker.Get<IBus>();

        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => bus.Publish(request)));

        var job = await env.WaitForTerminalAsync(request.JobId);
        await Eventually.WaitAsync(() => Task.FromResult(metrics.Total("duplicate_skips") + metrics.Total("acquire_conflicts") >= 19),
            TimeSpan.FromSeconds(60), () => "not every copy was acknowledged");
        Assert.Equal(19, metrics.Total("duplicate_skips") + metrics.Total("acquire_conflicts"));
        Assert.Equal(JobStatuses.Succeeded, job.Status);
        Assert.Equal(1, job.AttemptCount);
        var timeline = await env.TimelineAsync(request.JobId);
        Assert.Single(timeline, e => e.Type == TimelineEventTypes.Started);
        Assert.Single(timeline, e => e.Type == TimelineEventTypes.Completed);
        Assert.Null(await env.Rabbit.QueueAsync(env.VirtualHost, "consumers.jobs_error"));
        await env.AssertAllTimelinesValidAsync();
    }
}
