using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Messaging;
using MassTransit;

namespace Consumers.IntegrationTests.Flow;

/// <summary>With quorum queues (a RabbitMQ cluster), jobs still reach their lanes: every send declares a matching queue.</summary>
public sealed class QuorumQueueTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task Submitted_jobs_run_in_the_shared_lane_and_in_their_own_lane_on_quorum_queues()
    {
        await env.StartWorkerAsync(overrides: new Dictionary<string, string?>
        {
            ["Consumers:RabbitMq:QueueType"] = "quorum",
            ["Consumers:Flow:Stages:synthetic:Slots"] = "1",
        });
        env.CreateMediaFile("quorum.bin", 1024);
        var shared = TestEnvironment.ManifestJob("quorum.bin", "quorum/manifest.json");
        var laned = TestEnvironment.SyntheticJob("quorum/synthetic.json");
        await env.Store.SubmitAsync(shared, 3, CancellationToken.None);
        await env.Store.SubmitAsync(laned, 3, CancellationToken.None);

        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(shared.JobId, TimeSpan.FromSeconds(60))).Status);
        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(laned.JobId, TimeSpan.FromSeconds(60))).Status);
        foreach (var queue in new[] { "consumers.jobs", "consumers.jobs.synthetic" })
        {
            Assert.Equal("quorum", (await env.Rabbit.QueueAsync(env.VirtualHost, queue))?["type"]?.GetValue<string>());
        }
    }

    [Fact]
    public async Task A_send_to_a_job_queue_that_nothing_is_bound_to_fails_instead_of_vanishing()
    {
        var worker = await env.StartWorkerAsync(overrides: new Dictionary<string, string?> { ["Consumers:RabbitMq:QueueType"] = "quorum" });
        var options = new RabbitMqOptions { QueueType = "quorum" };

        await Assert.ThrowsAnyAsync<Exception>(() => worker.Get<IBus>().SendToJobQueueAsync(options, "consumers.jobs.nobody",
            TestEnvironment.SyntheticJob("lost.json"), typeof(JobRequested), Guid.NewGuid(), CancellationToken.None));
    }
}
