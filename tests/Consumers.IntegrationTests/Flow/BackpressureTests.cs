using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Flow;

namespace Consumers.IntegrationTests.Flow;

/// <summary>A downstream queue over its high watermark pauses the intake; draining it resumes work.</summary>
public sealed class BackpressureTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_full_downstream_queue_pauses_the_worker_and_it_resumes_once_drained()
    {
        using var metrics = new MetricProbe();
        await env.Rabbit.DeclareQueueAsync(env.VirtualHost, "downstream");
        var worker = await env.StartWorkerAsync("pressed", new Dictionary<string, string?>
        {
            ["Consumers:Flow:Backpressure:Enabled"] = "true",
            ["Consumers:Flow:Backpressure:WatchQueues:0"] = "downstream",
            ["Consumers:Flow:Backpressure:QueueHighWatermark"] = "5",
            ["Consumers:Flow:Backpressure:QueueLowWatermark"] = "0",
            ["Consumers:Flow:Backpressure:CpuHighWatermark"] = "2",
            ["Consumers:Flow:Backpressure:SampleInterval"] = "00:00:00.3",
            ["Consumers:Flow:Backpressure:MinPause"] = "00:00:01",
            ["Consumers:Flow:Backpressure:ManagementUri"] = StackSettings.ManagementUri.ToString(),
        });
        for (var i = 0; i < 10; i++)
        {
            await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "downstream", "{}");
        }

        await metrics.WaitForAsync("worker_pauses", 1);
        var intake = worker.Get<JobIntake>();
        Assert.False(intake.IsOpen);
        await Eventually.WaitAsync(async () => (await env.Rabbit.QueueAsync(env.VirtualHost, "consumers.jobs"))?["consumers"]?.GetValue<int>() == 0,
            TimeSpan.FromSeconds(30), () => "the job queue still has a consumer while paused");

        var job = new JobRequested { JobId = Guid.NewGuid(), Stage = "synthetic", OutputKey = "held.json" };
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(JobStatuses.Queued, (await env.JobAsync(job.JobId))!.Status);

        await env.Rabbit.TakeAsync(env.VirtualHost, "downstream", 100);

        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(job.JobId)).Status);
        Assert.True(intake.IsOpen);
        Assert.Equal(1, metrics.Total("worker_pauses"));
    }
}
