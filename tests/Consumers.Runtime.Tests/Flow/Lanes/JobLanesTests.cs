using Consumers.Runtime.Flow;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Messaging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Tests.Flow.Lanes;

public sealed class JobLanesTests
{
    [Fact]
    public void Transcodes_have_a_lane_of_their_own_by_default_and_everything_else_shares_the_job_queue()
    {
        var lanes = Lanes(new FlowOptions());

        Assert.Equal("consumers.jobs.transcode", lanes.For("transcode").Queue);
        Assert.Equal(2, lanes.For("transcode").MaxSlots);
        Assert.Same(lanes.Shared, lanes.For("TRANSCODE"));
        Assert.Same(lanes.Shared, lanes.For("probe"));
        Assert.Same(lanes.Shared, lanes.For(null));
        Assert.Equal("consumers.jobs", lanes.Shared.Queue);
        Assert.Equal(8, lanes.Worker.Capacity);
    }

    [Fact]
    public void Zero_slots_removes_a_lane_and_a_lane_never_exceeds_the_whole_worker()
    {
        var flow = new FlowOptions();
        flow.Stages["transcode"].Slots = 0;
        flow.Stages["waveform"] = new StageSlotOptions { Slots = 50, MinSlots = 99 };
        var lanes = Lanes(flow, concurrentJobs: 4);

        Assert.Same(lanes.Shared, lanes.For("transcode"));
        Assert.Equal(4, lanes.For("waveform").MaxSlots);
        Assert.Equal(4, lanes.For("waveform").MinSlots);
        Assert.Equal(["shared", "waveform"], lanes.All.Select(l => l.Name));
    }

    [Fact]
    public async Task A_job_holds_a_slot_of_its_lane_and_of_the_worker_until_it_lets_go()
    {
        var lanes = Lanes(new FlowOptions(), concurrentJobs: 3);
        var transcode = lanes.For("transcode");

        var first = await lanes.EnterAsync(transcode, CancellationToken.None);
        var second = await lanes.EnterAsync(transcode, CancellationToken.None);
        using var full = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        Assert.Null(await lanes.EnterAsync(transcode, full.Token));

        // The lane is full but the worker has a slot left for another stage.
        var probe = await lanes.EnterAsync(lanes.Shared, CancellationToken.None);
        Assert.NotNull(probe);
        Assert.Equal(3, lanes.Worker.InUse);

        first!.Dispose();
        first.Dispose();
        Assert.Equal(2, lanes.Worker.InUse);
        Assert.Equal(1, transcode.Slots.InUse);
        second!.Dispose();
        probe.Dispose();
        Assert.Equal(0, lanes.Worker.InUse);
        Assert.Equal(2, transcode.TakeFinished());
    }

    [Fact]
    public async Task While_a_suspect_runs_alone_no_other_delivery_gets_in_and_one_that_gives_up_returns_its_slots()
    {
        var lanes = Lanes(new FlowOptions(), concurrentJobs: 4);
        using var suspect = await lanes.EnterAsync(lanes.Shared, CancellationToken.None);
        Assert.True(await lanes.Solo.TryRunAloneAsync(CancellationToken.None));

        using var closing = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        Assert.Null(await lanes.EnterAsync(lanes.For("transcode"), closing.Token));
        Assert.Equal(1, lanes.Worker.InUse);
        Assert.Equal(0, lanes.For("transcode").Slots.InUse);

        var next = lanes.EnterAsync(lanes.Shared, CancellationToken.None);
        Assert.False(next.IsCompleted);
        lanes.Solo.Release();
        using var entered = await next.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(entered);
        Assert.Equal(2, lanes.Solo.Running);
    }

    [Theory]
    [InlineData("rabbitmq://127.0.0.1:56729/consumers.jobs", "consumers.jobs")]
    [InlineData("rabbitmq://127.0.0.1:56729/cb_1234/consumers.jobs.transcode", "consumers.jobs.transcode")]
    [InlineData("rabbitmq://host/vhost/consumers.jobs?temporary=false", "consumers.jobs")]
    public void The_queue_of_an_endpoint_is_the_last_segment_of_its_address(string address, string queue) =>
        Assert.Equal(queue, JobLane.QueueOf(new Uri(address)));

    private static JobLanes Lanes(FlowOptions flow, int concurrentJobs = 8)
    {
        flow.ConcurrentJobs = concurrentJobs;
        return new(new JobQueueName(new RabbitMqOptions().JobQueue), Options.Create(flow));
    }
}
