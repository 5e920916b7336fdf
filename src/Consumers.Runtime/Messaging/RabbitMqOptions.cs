using System.Globalization;

namespace Consumers.Runtime.Messaging;

/// <summary>Settings under <c>Consumers:RabbitMq</c>.</summary>
public sealed class RabbitMqOptions : Settings.IValidatedSettings
{
    public const string Section = "Consumers:RabbitMq";

    /// <summary>The broker of a single-node setup; ignored when <see cref="Nodes"/> is set.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>AMQP port of <see cref="Host"/>, and of every node in <see cref="Nodes"/> written without one.</summary>
    public ushort Port { get; set; } = 56729;

    /// <summary>
    /// The nodes of a RabbitMQ cluster, each <c>host</c> or <c>host:port</c>. When set, the worker connects to the first
    /// node that answers and, when that connection is lost, to the next one (MassTransit's cluster support), so a
    /// dead node does not stop consumption while the others run. Empty: one node, <see cref="Host"/> and <see cref="Port"/>.
    /// </summary>
    public List<string> Nodes { get; set; } = [];
    public string VirtualHost { get; set; } = "/";
    public string Username { get; set; } = "consumers";
    public string Password { get; set; } = "consumers";

    /// <summary>The queue workers consume <c>JobRequested</c> from. Producers may publish plain JSON straight to it.</summary>
    public string JobQueue { get; set; } = Contracts.ContractNames.JobQueue;

    /// <summary>Deliveries held beyond the running jobs. Small, so that waiting work stays on the broker for other workers.</summary>
    public int PrefetchBuffer { get; set; } = 2;

    /// <summary><c>classic</c> (default) or <c>quorum</c> (replicated, for a RabbitMQ cluster).</summary>
    public string QueueType { get; set; } = "classic";

    /// <summary>
    /// Whether the job queue and the lane queues are priority queues (<c>x-max-priority</c> 9), so a request's
    /// <c>priority</c> orders the jobs waiting in them. RabbitMQ cannot change a queue's arguments in place, so:
    /// <c>auto</c> (default) makes a queue that does not exist yet a priority queue and uses an existing queue as it
    /// was declared (one warning line names a queue without priority); <c>on</c> stops the worker at start with one
    /// line when a queue exists without priority; <c>off</c> declares plain queues and stops the worker at start when
    /// one is a priority queue. Classic queues only: RabbitMQ 3.10 quorum queues have no priorities, so with quorum
    /// queues <c>auto</c> means plain and <c>on</c> is refused. See docs/rollout.md for moving an existing installation.
    /// </summary>
    public string Priority { get; set; } = PriorityModes.Auto;

    /// <summary>
    /// AMQP heartbeat. A frozen worker keeps its prefetched deliveries until the broker gives up on it after about
    /// two missed heartbeats; short, so that the work moves on in seconds rather than minutes.
    /// </summary>
    public TimeSpan Heartbeat { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long one connection attempt may take. A node whose machine is gone does not refuse, it stays silent: with
    /// several <see cref="Nodes"/> the next node is tried only after this.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Where the worker may connect, in the order it tries them: <see cref="Nodes"/>, else <see cref="Host"/>:<see cref="Port"/>.</summary>
    public IReadOnlyList<BrokerNode> Endpoints() =>
        Nodes.Count == 0 ? [new BrokerNode(Host, Port)] : [.. Nodes.Select(node => BrokerNode.Parse(node, Port))];

    /// <summary>What is wrong with the broker settings (empty when nothing): checked when the worker starts, before it connects.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (Nodes.Count == 0 && string.IsNullOrWhiteSpace(Host))
        {
            problems.Add($"{Section}:Host is empty and {Section}:Nodes names no node");
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            problems.Add($"{Section}:ConnectTimeout must be positive");
        }

        if (Port == 0)
        {
            problems.Add($"{Section}:Port must be 1-65535");
        }

        var seen = new HashSet<BrokerNode>();
        for (var i = 0; i < Nodes.Count; i++)
        {
            if (!BrokerNode.TryParse(Nodes[i], Port, out var node, out var why))
            {
                problems.Add($"{Section}:Nodes:{i.ToString(CultureInfo.InvariantCulture)} '{Nodes[i]}': {why}");
            }
            else if (!seen.Add(node))
            {
                problems.Add($"{Section}:Nodes:{i.ToString(CultureInfo.InvariantCulture)} '{Nodes[i]}' names {node} a second time");
            }
        }

        if (!string.Equals(QueueType, "classic", StringComparison.OrdinalIgnoreCase) && !UsesQuorumQueues)
        {
            problems.Add($"{Section}:QueueType '{QueueType}' is neither classic nor quorum");
        }

        if (!PriorityModes.All.Contains(Priority, StringComparer.OrdinalIgnoreCase))
        {
            problems.Add($"{Section}:Priority '{Priority}' is none of {string.Join(", ", PriorityModes.All)}");
        }
        else if (UsesQuorumQueues && PriorityIs(PriorityModes.On))
        {
            problems.Add($"{Section}:Priority 'on' needs classic queues: RabbitMQ 3.10 quorum queues deliver in arrival order (use auto or off)");
        }

        return problems;
    }

    /// <summary>True when <see cref="Priority"/> is <paramref name="mode"/> (one of <see cref="PriorityModes"/>).</summary>
    public bool PriorityIs(string mode) => string.Equals(Priority, mode, StringComparison.OrdinalIgnoreCase);

    /// <summary>What a receive endpoint with <paramref name="slots"/> slots may hold: the slots plus the buffer.</summary>
    public int PrefetchFor(int slots) => slots + PrefetchBuffer;

    public bool UsesQuorumQueues => string.Equals(QueueType, "quorum", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Where to send to one of the job queues. A <c>queue:</c> send declares the queue, so a request is kept even
    /// before any worker bound it; but it declares a plain classic queue, which RabbitMQ refuses for an existing
    /// quorum or priority queue (other arguments). So unless <see cref="Priority"/> is off on classic queues, the
    /// send goes to the queue's own exchange instead, which the worker that sends (relay or lane forward) has
    /// already bound to the queue when its endpoints started.
    /// </summary>
    public Uri SendAddress(string queue) =>
        new(UsesQuorumQueues || !PriorityIs(PriorityModes.Off) ? "exchange:" + queue : "queue:" + queue);
}

/// <summary>The values of <see cref="RabbitMqOptions.Priority"/>.</summary>
public static class PriorityModes
{
    public const string Auto = "auto";
    public const string On = "on";
    public const string Off = "off";

    public static readonly IReadOnlyList<string> All = [Auto, On, Off];
}
