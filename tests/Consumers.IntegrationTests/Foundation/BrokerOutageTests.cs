using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Foundation;

/// <summary>The outbox keeps events while RabbitMQ is down and delivers all of them, in order, once it is back.</summary>
public sealed class BrokerOutageTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync()
    {
        // Never leave the shared broker stopped for the next test.
        await BrokerControl.StartAsync();
        await env.DisposeAsync();
    }

    [Fact]
    public async Task Events_committed_while_the_broker_is_down_are_all_published_in_order_after_it_returns()
    {
        var capture = await TimelineCapture.BindAsync(env);
        await env.StartWorkerAsync();
        var jobs = Enumerable.Range(0, 5).Select(i => new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "synthetic",
            OutputKey = $"outage/{i}.json",
        }).ToList();

        await BrokerControl.StopAsync();
        foreach (var job in jobs)
        {
            Assert.True(await env.Store.SubmitAsync(job, 3, CancellationToken.None));
        }

        // While the broker is down nothing can leave: the rows wait in the outbox.
        Assert.True(await env.CountAsync("SELECT count(*) FROM outbox_messages") >= 10);
        await BrokerControl.StartAsync();

        foreach (var job in jobs)
        {
            var finished = await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(120));
            Assert.Equal(JobStatuses.Succeeded, finished.Status);
            var published = await capture.WaitForAsync(job.JobId, 3, TimeSpan.FromSeconds(120));
            Assert.Equal([1L, 2L, 3L], published.Select(e => e.Sequence));
            Assert.Equal([TimelineEventTypes.Requested, TimelineEventTypes.Started, TimelineEventTypes.Completed], published.Select(e => e.Type));
        }

        await Eventually.WaitAsync(async () => await env.CountAsync("SELECT count(*) FROM outbox_messages") == 0,
            TimeSpan.FromSeconds(60), () => "outbox not drained after the broker returned");
        await env.AssertAllTimelinesValidAsync();
    }
}
