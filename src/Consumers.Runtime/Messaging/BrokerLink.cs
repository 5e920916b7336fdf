using Consumers.Runtime.Flow;
using Consumers.Runtime.Flow.Lanes;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Messaging;

/// <summary>
/// Whether the job endpoints are consuming from RabbitMQ, from MassTransit's endpoint events: an endpoint is up from
/// its <c>Ready</c> until its transport ends without being asked to (the connection to its node was lost: MassTransit
/// reports <c>Completed</c> with no <c>Stopping</c> before it) or faults, and up again on the next <c>Ready</c>, which
/// with several <see cref="RabbitMqOptions.Nodes"/> may come from another node. A deliberate stop (the job intake
/// closing, shutdown) is not a loss; the intake's own health says Degraded then. MassTransit's own bus check only
/// says Degraded while it reconnects, which readiness probes take for ready.
/// </summary>
public sealed partial class BrokerLink(IOptions<RabbitMqOptions> options, TimeProvider clock, ILogger<BrokerLink> logger) : IReceiveEndpointObserver
{
    private readonly Lock gate = new();
    private readonly HashSet<string> queues = new(StringComparer.Ordinal);
    private readonly HashSet<string> ready = new(StringComparer.Ordinal);
    private readonly HashSet<string> stopping = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Loss> lost = new(StringComparer.Ordinal);

    /// <summary>A queue whose endpoint counts; set before the bus starts.</summary>
    public void Watch(string queue)
    {
        lock (gate)
        {
            queues.Add(queue);
        }
    }

    /// <summary>Null while every watched endpoint consumes; otherwise why not, for <c>/health/ready</c>.</summary>
    public string? Problem()
    {
        lock (gate)
        {
            var nodes = string.Join(", ", options.Value.Endpoints());
            if (lost.Count > 0)
            {
                var first = lost.MinBy(l => l.Value.Since);
                var seconds = (clock.GetUtcNow() - first.Value.Since).TotalSeconds;
                return $"not consuming from RabbitMQ for {seconds:F0}s ({lost.Count} of {queues.Count} job endpoints lost their connection; " +
                       $"{first.Key}: {first.Value.Reason}); reconnecting to {nodes}";
            }

            var waiting = queues.Count(q => !ready.Contains(q));
            return waiting > 0 ? $"{waiting} of {queues.Count} job endpoints not connected to RabbitMQ yet ({nodes})" : null;
        }
    }

    public Task Ready(ReceiveEndpointReady ready)
    {
        var queue = JobLane.QueueOf(ready.InputAddress);
        bool wasLost;
        Loss loss;
        lock (gate)
        {
            if (!queues.Contains(queue))
            {
                return Task.CompletedTask;
            }

            this.ready.Add(queue);
            stopping.Remove(queue);
            wasLost = lost.Remove(queue, out loss);
        }

        if (wasLost)
        {
            LogConsumingAgain(queue, (clock.GetUtcNow() - loss.Since).TotalSeconds);
        }

        return Task.CompletedTask;
    }

    public Task Faulted(ReceiveEndpointFaulted faulted)
    {
        var queue = JobLane.QueueOf(faulted.InputAddress);
        var reason = faulted.Exception?.GetBaseException().Message ?? "transport faulted";
        bool first;
        lock (gate)
        {
            if (!queues.Contains(queue))
            {
                return Task.CompletedTask;
            }

            // Reconnect attempts fault again and again; the loss counts from the first.
            first = lost.TryAdd(queue, new Loss(clock.GetUtcNow(), reason));
        }

        if (first)
        {
            LogLost(queue, reason);
        }

        return Task.CompletedTask;
    }

    /// <summary>A deliberate stop (the intake closing, shutdown) announces itself; a lost connection does not.</summary>
    public Task Stopping(ReceiveEndpointStopping stopping)
    {
        var queue = JobLane.QueueOf(stopping.InputAddress);
        lock (gate)
        {
            if (queues.Contains(queue))
            {
                this.stopping.Add(queue);
                // Stopped on purpose: whether it could connect is moot until it starts again.
                lost.Remove(queue);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>The transport ended. Without a <see cref="Stopping"/> first, MassTransit lost the connection and is reconnecting.</summary>
    public Task Completed(ReceiveEndpointCompleted completed)
    {
        var queue = JobLane.QueueOf(completed.InputAddress);
        bool first;
        lock (gate)
        {
            if (!queues.Contains(queue) || stopping.Remove(queue))
            {
                return Task.CompletedTask;
            }

            first = lost.TryAdd(queue, new Loss(clock.GetUtcNow(), "connection lost"));
        }

        if (first)
        {
            LogLost(queue, "connection lost");
        }

        return Task.CompletedTask;
    }

    private readonly record struct Loss(DateTimeOffset Since, string Reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job endpoint {Queue} lost its RabbitMQ connection ({Reason}); reconnecting, to another node when several are configured")]
    private partial void LogLost(string queue, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job endpoint {Queue} consuming again after {Seconds:F1}s")]
    private partial void LogConsumingAgain(string queue, double seconds);
}
