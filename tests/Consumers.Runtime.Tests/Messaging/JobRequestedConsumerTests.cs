using Consumers.Contracts;
using Consumers.Runtime.Control;
using Consumers.Runtime.Flow;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Messaging;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;

namespace Consumers.Runtime.Tests.Messaging;

/// <summary>
/// The job consumer on MassTransit's in-memory test harness: what it decides before a job reaches the database.
/// Its endpoint is named like the shared lane's queue, as the worker's is on RabbitMQ.
/// </summary>
public sealed class JobRequestedConsumerTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly ServiceProvider provider = Build();
    private ITestHarness harness = null!;

    public async Task InitializeAsync()
    {
        harness = provider.GetTestHarness();
        harness.TestTimeout = TimeSpan.FromSeconds(60);
        await harness.Start();
    }

    public async Task DisposeAsync() => await provider.DisposeAsync();

    [Fact]
    public async Task A_job_on_the_shared_queue_whose_stage_has_a_lane_is_sent_on_to_that_lane_with_its_message_id()
    {
        var lane = Capture($"{ContractNames.JobQueue}.transcode");
        await lane.Ready;
        var job = Job(Guid.NewGuid(), "transcode");
        var messageId = NewId.NextGuid();

        await SendToJobQueueAsync(job, messageId);

        var forwarded = await lane.Received.WaitAsync(Patience);
        Assert.Equal(job.JobId, forwarded.Message.JobId);
        Assert.Equal("transcode", forwarded.Message.Stage);
        Assert.Equal(messageId, forwarded.MessageId);
        var consumed = harness.GetConsumerHarness<JobRequestedConsumer>().Consumed.Select<JobRequested>(c => c.Context.Message.JobId == job.JobId).Single();
        Assert.Null(consumed.Exception);
        // Forwarding is all that happened here: no attempt started, no slot is held.
        Assert.Equal(0, provider.GetRequiredService<ActiveJobRegistry>().Count);
        Assert.Equal(0, provider.GetRequiredService<JobLanes>().Worker.InUse);
    }

    [Fact]
    public async Task A_job_without_a_job_id_goes_to_the_error_queue_with_the_reason()
    {
        var errors = Capture(ContractNames.JobQueue + "_error");
        await errors.Ready;

        await SendToJobQueueAsync(Job(Guid.Empty, "synthetic"), NewId.NextGuid());

        var dead = await errors.Received.WaitAsync(Patience);
        Assert.Equal(Guid.Empty, dead.Message.JobId);
        var headers = dead.ReceiveContext.TransportHeaders;
        Assert.Equal(typeof(InvalidJobMessageException).FullName, headers.Get<string>("MT-Fault-ExceptionType"));
        Assert.Contains("jobId is missing or empty", headers.Get<string>("MT-Fault-Message"), StringComparison.Ordinal);
        Assert.Equal(0, provider.GetRequiredService<ActiveJobRegistry>().Count);
    }

    /// <summary>A receive endpoint on <paramref name="queue"/> that hands over the first request it gets.</summary>
    private (Task Ready, Task<ConsumeContext<JobRequested>> Received) Capture(string queue)
    {
        var received = new TaskCompletionSource<ConsumeContext<JobRequested>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var handle = harness.Bus.ConnectReceiveEndpoint(queue, e => e.Handler<JobRequested>(context =>
        {
            received.TrySetResult(context);
            return Task.CompletedTask;
        }));
        return (handle.Ready, received.Task);
    }

    private async Task SendToJobQueueAsync(JobRequested job, Guid messageId)
    {
        var queue = await harness.Bus.GetSendEndpoint(new Uri("queue:" + ContractNames.JobQueue));
        await queue.Send(job, context => context.MessageId = messageId);
    }

    private static JobRequested Job(Guid jobId, string stage) =>
        new() { JobId = jobId, Stage = stage, Source = "in/clip.mp4", OutputKey = $"out/{jobId:N}.mp4" };

    /// <summary>
    /// The worker's own registrations for everything the consumer needs, with the in-memory bus in place of RabbitMQ.
    /// Nothing here connects: the database is reached only once a job is acquired, which these tests never get to.
    /// </summary>
    private static ServiceProvider Build()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([]).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddConsumersCore(configuration);
        services.AddSingleton<IHostApplicationLifetime, ApplicationLifetime>();
        services.AddSingleton<JobIntake>();
        services.AddSingleton<IIntakeSwitch>(sp => sp.GetRequiredService<JobIntake>());
        services.AddSingleton<JobLanes>();
        services.AddJobRunner();
        services.AddSingleton<DatabaseMonitor>();
        services.AddSingleton<StagePauses>();
        services.AddSingleton<ParkingLot>();
        services.AddMassTransitTestHarness(x => x.AddConsumer<JobRequestedConsumer>().Endpoint(e => e.Name = ContractNames.JobQueue));
        return services.BuildServiceProvider(validateScopes: true);
    }
}
