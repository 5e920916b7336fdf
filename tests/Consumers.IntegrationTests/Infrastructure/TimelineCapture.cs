using System.Text.Json;

namespace Consumers.IntegrationTests.Infrastructure;

/// <summary>
/// A subscriber of the published timeline: a durable queue bound to the <c>consumers.timeline</c> exchange,
/// read through the management API. Collects everything it has seen, across calls.
/// </summary>
public sealed class TimelineCapture
{
    public const string Exchange = "consumers.timeline";

    private readonly TestEnvironment environment;
    private readonly string queue;
    private readonly List<PublishedEvent> seen = [];

    private TimelineCapture(TestEnvironment environment, string queue)
    {
        this.environment = environment;
        this.queue = queue;
    }

    public static async Task<TimelineCapture> BindAsync(TestEnvironment environment)
    {
        var capture = new TimelineCapture(environment, "test.timeline");
        await environment.Rabbit.BindToFanoutAsync(environment.VirtualHost, Exchange, capture.queue);
        return capture;
    }

    /// <summary>Waits until <paramref name="count"/> events of <paramref name="jobId"/> were published; returns them in arrival order.</summary>
    public async Task<IReadOnlyList<PublishedEvent>> WaitForAsync(Guid jobId, int count, TimeSpan? timeout = null)
    {
        await Eventually.WaitAsync(async () =>
        {
            await DrainAsync();
            return seen.Count(e => e.JobId == jobId) >= count;
        }, timeout ?? TimeSpan.FromSeconds(60), () => $"saw {seen.Count(e => e.JobId == jobId)} of {count} published events of job {jobId}");
        return [.. seen.Where(e => e.JobId == jobId)];
    }

    public IReadOnlyList<PublishedEvent> Seen => seen;

    public async Task DrainAsync()
    {
        while (true)
        {
            var batch = await environment.Rabbit.TakeAsync(environment.VirtualHost, queue, 500);
            foreach (var message in batch)
            {
                // MassTransit envelope: the event is under "message", the id under "messageId".
                var envelope = message.Json;
                var body = envelope.GetProperty("message");
                seen.Add(new PublishedEvent(
                    envelope.GetProperty("messageId").GetGuid(),
                    body.GetProperty("jobId").GetGuid(),
                    body.GetProperty("sequence").GetInt64(),
                    body.GetProperty("type").GetString()!,
                    body.GetProperty("attempt").GetInt32(),
                    body.GetProperty("data").Clone()));
            }

            if (batch.Count == 0)
            {
                return;
            }
        }
    }
}

public sealed record PublishedEvent(Guid MessageId, Guid JobId, long Sequence, string Type, int Attempt, JsonElement Data);
