namespace Consumers.Runtime.Messaging;

/// <summary>Settings under <c>Consumers:RabbitMq</c>.</summary>
public sealed class RabbitMqOptions
{
    public const string Section = "Consumers:RabbitMq";

    public string Host { get; set; } = "127.0.0.1";
    public ushort Port { get; set; } = 56729;
    public string VirtualHost { get; set; } = "/";
    public string Username { get; set; } = "consumers";
    public string Password { get; set; } = "consumers";

    /// <summary>The queue workers consume <c>JobRequested</c> from. Producers may publish plain JSON straight to it.</summary>
    public string JobQueue { get; set; } = Contracts.ContractNames.JobQueue;

    /// <summary>Jobs one worker runs at once (MassTransit's ConcurrentMessageLimit).</summary>
    public int ConcurrentJobs { get; set; } = 8;

    /// <summary>Deliveries held beyond the running jobs. Small, so that waiting work stays on the broker for other workers.</summary>
    public int PrefetchBuffer { get; set; } = 2;

    /// <summary><c>classic</c> (default) or <c>quorum</c> (replicated, for a RabbitMQ cluster).</summary>
    public string QueueType { get; set; } = "classic";

    /// <summary>
    /// AMQP heartbeat. A frozen worker keeps its prefetched deliveries until the broker gives up on it after about
    /// two missed heartbeats; short, so that the work moves on in seconds rather than minutes.
    /// </summary>
    public TimeSpan Heartbeat { get; set; } = TimeSpan.FromSeconds(5);

    public int PrefetchCount => PrefetchFor(ConcurrentJobs);

    /// <summary>What a receive endpoint with <paramref name="slots"/> slots may hold: the slots plus the buffer.</summary>
    public int PrefetchFor(int slots) => slots + PrefetchBuffer;

    public bool UsesQuorumQueues => string.Equals(QueueType, "quorum", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Where to send to one of the job queues. A <c>queue:</c> send declares the queue, so a request is kept even
    /// before any worker bound it; but it declares a classic queue, which RabbitMQ refuses for an existing quorum
    /// queue. With quorum queues the send goes to the queue's own exchange instead, which the worker that sends
    /// (relay or lane forward) has already bound to the queue when its endpoints started.
    /// </summary>
    public Uri SendAddress(string queue) => new(UsesQuorumQueues ? "exchange:" + queue : "queue:" + queue);
}
