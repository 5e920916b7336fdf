using System.Collections.Concurrent;
using System.Diagnostics;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Telemetry;
using MassTransit;

namespace Consumers.IntegrationTests.Observability;

/// <summary>One job, one trace: from the producer's publish through acquire, stage, commit, SQL and the outbox relay.</summary>
public sealed class TraceTests : IAsyncLifetime, IDisposable
{
    private const string ProducerSourceName = "Consumers.IntegrationTests.Producer";

    private static readonly ActivitySource Producer = new(ProducerSourceName);

    private readonly ConcurrentQueue<Activity> finished = new();
    private ActivityListener listener = null!;
    private TestEnvironment env = null!;

    public async Task InitializeAsync()
    {
        listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is ProducerSourceName or ConsumersActivitySource.Name or "MassTransit" or "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = finished.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        env = await TestEnvironment.CreateAsync();
    }

    public async Task DisposeAsync() => await env.DisposeAsync();

    public void Dispose() => listener?.Dispose();

    [Fact]
    public async Task The_producers_trace_continues_through_the_worker_and_into_every_timeline_publish()
    {
        var capture = await TimelineCapture.BindAsync(env);
        var worker = await env.StartWorkerAsync();
        env.CreateMediaFile("traced.bin", 2048);
        var request = TestEnvironment.ManifestJob("traced.bin", "traced/manifest.json");

        ActivityTraceId traceId;
        using (var publish = Producer.StartActivity("producer.submit", ActivityKind.Producer))
        {
            Assert.NotNull(publish);
            traceId = publish.TraceId;
            await worker.Get<IBus>().Publish(request);
        }

        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(request.JobId)).Status);
        await capture.WaitForAsync(request.JobId, 3);
        await Eventually.WaitAsync(() => Task.FromResult(RelayPublishes(request.JobId).Count >= 3), TimeSpan.FromSeconds(30),
            () => $"saw {RelayPublishes(request.JobId).Count} outbox.publish spans for the job");

        var inTrace = finished.Where(a => a.TraceId == traceId).ToList();
        var names = inTrace.Select(a => a.Source.Name + "/" + a.OperationName).ToHashSet();

        // The worker's consume is a child of the producer's send, not a new root.
        Assert.Contains(inTrace, a => a.Source.Name == "MassTransit" && a.Kind == ActivityKind.Consumer);
        foreach (var span in new[] { "job.acquire", "job.stage", "job.commit" })
        {
            Assert.True(names.Contains(ConsumersActivitySource.Name + "/" + span), $"{span} is not in the producer's trace: {string.Join(", ", names)}");
        }

        Assert.Contains(inTrace, a => a.Source.Name == "Npgsql");

        // The runtime's spans speak OpenTelemetry's messaging conventions: which broker, queue, operation, message.
        foreach (var span in inTrace.Where(a => a.Source.Name == ConsumersActivitySource.Name && a.OperationName.StartsWith("job.", StringComparison.Ordinal)))
        {
            Assert.Equal("rabbitmq", span.GetTagItem("messaging.system"));
            Assert.Equal("process", span.GetTagItem("messaging.operation.type"));
            Assert.Equal(ContractNames.JobQueue, span.GetTagItem("messaging.destination.name"));
            Assert.NotNull(span.GetTagItem("messaging.message.id"));
        }

        Assert.All(RelayPublishes(request.JobId), span =>
        {
            Assert.Equal("rabbitmq", span.GetTagItem("messaging.system"));
            Assert.Equal("send", span.GetTagItem("messaging.operation.type"));
            Assert.Equal(ContractNames.TimelineExchange, span.GetTagItem("messaging.destination.name"));
            Assert.NotNull(span.GetTagItem("messaging.message.id"));
        });

        // Every timeline event the job's own transactions wrote is published under the same trace, after commit.
        var relayed = RelayPublishes(request.JobId);
        Assert.All(relayed, a => Assert.Equal(traceId, a.TraceId));
        Assert.True(relayed.Count >= 3, $"expected the started, completed and requested events' publishes, saw {relayed.Count}");
    }

    private List<Activity> RelayPublishes(Guid jobId) =>
        finished.Where(a => a.Source.Name == ConsumersActivitySource.Name && a.OperationName == "outbox.publish"
                            && Equals(a.GetTagItem("job.id"), jobId)).ToList();

    [Fact]
    public async Task A_failing_stage_marks_its_span_as_an_error_with_the_code()
    {
        var worker = await env.StartWorkerAsync();
        var broken = TestEnvironment.SyntheticJob("broken.json", ("failCode", ErrorCodes.CorruptMedia));
        var fine = TestEnvironment.SyntheticJob("fine.json");
        await worker.Get<IBus>().Publish(broken);
        await worker.Get<IBus>().Publish(fine);

        Assert.Equal(JobStatuses.Failed, (await env.WaitForTerminalAsync(broken.JobId)).Status);
        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(fine.JobId)).Status);
        await Eventually.WaitAsync(() => Task.FromResult(StageSpan(broken.JobId) is not null && StageSpan(fine.JobId) is not null),
            TimeSpan.FromSeconds(30), () => "no job.stage span for the jobs");

        var failed = StageSpan(broken.JobId)!;
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
        Assert.StartsWith(ErrorCodes.CorruptMedia, failed.StatusDescription, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.CorruptMedia, failed.GetTagItem("error.type"));
        Assert.NotEqual(ActivityStatusCode.Error, StageSpan(fine.JobId)!.Status);
    }

    private Activity? StageSpan(Guid jobId) =>
        finished.FirstOrDefault(a => a.Source.Name == ConsumersActivitySource.Name && a.OperationName == "job.stage" && Equals(a.GetTagItem("job.id"), jobId));
}
