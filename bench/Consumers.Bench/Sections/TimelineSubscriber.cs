using System.Collections.Concurrent;
using Consumers.Bench.Infrastructure;
using Consumers.Contracts;
using MassTransit;

namespace Consumers.Bench.Sections;

/// <summary>
/// A subscriber of the published timeline (<c>consumers.timeline</c>), like any downstream service: records when
/// each event arrived, to compare with the event's <c>occurredAt</c> (the time of the transaction that wrote it).
/// </summary>
public sealed class TimelineSubscriber : IAsyncDisposable
{
    private readonly IBusControl bus;
    private readonly ConcurrentQueue<(JobTimelineEvent Event, DateTimeOffset ReceivedAt)> received = new();

    private TimelineSubscriber(BenchEnvironment environment)
    {
        bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(StackSettings.RabbitHost, StackSettings.RabbitPort, environment.VirtualHost, h =>
            {
                h.Username(StackSettings.RabbitUser);
                h.Password(StackSettings.RabbitPassword);
            });
            cfg.ReceiveEndpoint("bench.timeline", e =>
            {
                e.PrefetchCount = 256;
                e.Handler<JobTimelineEvent>(context =>
                {
                    received.Enqueue((context.Message, DateTimeOffset.UtcNow));
                    return Task.CompletedTask;
                });
            });
        });
    }

    public IReadOnlyCollection<(JobTimelineEvent Event, DateTimeOffset ReceivedAt)> Received => received;

    public static async Task<TimelineSubscriber> StartAsync(BenchEnvironment environment)
    {
        var subscriber = new TimelineSubscriber(environment);
        await subscriber.bus.StartAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (subscriber.bus.CheckHealth().Status != BusHealthStatus.Healthy)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the timeline subscriber did not connect within 30 s");
            }

            await Task.Delay(50);
        }

        return subscriber;
    }

    public async ValueTask DisposeAsync() => await bus.StopAsync();
}
