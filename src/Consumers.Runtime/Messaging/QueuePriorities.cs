using Consumers.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Consumers.Runtime.Messaging;

/// <summary>
/// Which of the worker's job queues are priority queues, found out once before the bus declares them. RabbitMQ
/// refuses a declare whose arguments differ from the existing queue's (PRECONDITION_FAILED), and MassTransit would
/// retry that refused declare forever; so each queue is declared here first, the way <see cref="RabbitMqOptions.Priority"/>
/// asks, and a refusal either decides how the endpoint is declared (<c>auto</c>) or stops the start with
/// <see cref="QueuePriorityMismatchException"/> (<c>on</c>, <c>off</c>).
/// </summary>
public sealed partial class QueuePriorities(IOptions<RabbitMqOptions> options, ILogger<QueuePriorities> logger)
{
    /// <summary>The <c>x-max-priority</c> of a priority queue: the highest request priority, so every level counts.</summary>
    public const int MaxPriority = JobPriority.Highest;

    private const string Argument = "x-max-priority";

    private readonly Lock gate = new();
    private HashSet<string>? priorityQueues;

    /// <summary>
    /// Declares <paramref name="queues"/> and remembers which are priority queues; at most once. Throws
    /// <see cref="QueuePriorityMismatchException"/> when a queue contradicts an <c>on</c> or <c>off</c> setting.
    /// </summary>
    public async Task CheckAsync(IEnumerable<string> queues, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (priorityQueues is not null)
            {
                return;
            }
        }

        var found = await FindAsync([.. queues], cancellationToken);
        lock (gate)
        {
            priorityQueues ??= found;
        }
    }

    /// <summary>Whether the endpoint on <paramref name="queue"/> is declared with <c>x-max-priority</c>; checks first if not yet done.</summary>
    public bool IsPriorityQueue(string queue, IEnumerable<string> allQueues)
    {
        lock (gate)
        {
            if (priorityQueues is not null)
            {
                return priorityQueues.Contains(queue);
            }
        }

        // The bus is configured synchronously; a host that did not check before it started checks here.
        Task.Run(() => CheckAsync(allQueues, CancellationToken.None)).GetAwaiter().GetResult();
        lock (gate)
        {
            return priorityQueues!.Contains(queue);
        }
    }

    private async Task<HashSet<string>> FindAsync(IReadOnlyList<string> queues, CancellationToken cancellationToken)
    {
        var rabbit = options.Value;
        var wanted = !rabbit.PriorityIs(PriorityModes.Off);
        if (rabbit.UsesQuorumQueues)
        {
            if (rabbit.PriorityIs(PriorityModes.Auto))
            {
                LogQuorum();
            }

            return [];
        }

        IConnection connection;
        try
        {
            connection = await ConnectAsync(rabbit, cancellationToken);
        }
        catch (Exception ex) when (ex is BrokerUnreachableException or OperationInterruptedException or IOException or TimeoutException)
        {
            // Nothing to compare with: declare as configured; MassTransit reports a refused declare if it comes.
            LogUnchecked(ex.Message, wanted);
            return wanted ? [.. queues] : [];
        }

        var priority = new HashSet<string>(StringComparer.Ordinal);
        await using (connection)
        {
            foreach (var queue in queues)
            {
                if (await DeclaresAsync(connection, queue, wanted, cancellationToken) is not { } refusal)
                {
                    if (wanted)
                    {
                        priority.Add(queue);
                    }

                    continue;
                }

                // The queue exists with other arguments. Only a plain queue where priority was asked is left as it is.
                var plainExists = wanted && refusal.Contains("but current is none", StringComparison.Ordinal);
                if (plainExists && rabbit.PriorityIs(PriorityModes.Auto))
                {
                    LogPlainQueue(queue);
                    continue;
                }

                throw new QueuePriorityMismatchException(queue, plainExists
                    ? $"queue '{queue}' exists without {Argument}, and {RabbitMqOptions.Section}:Priority is on"
                    : $"queue '{queue}' was declared with other arguments than {RabbitMqOptions.Section}:Priority '{rabbit.Priority}' asks ({refusal})");
            }
        }

        return priority;
    }

    /// <summary>Null when RabbitMQ accepted the declare (queue created, or there already with these arguments); else its refusal.</summary>
    private static async Task<string?> DeclaresAsync(IConnection connection, string queue, bool priority, CancellationToken cancellationToken)
    {
        // A refused declare closes its channel: one channel per queue. Same flags and argument type as MassTransit's declare.
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        var arguments = priority ? new Dictionary<string, object?> { [Argument] = MaxPriority } : null;
        try
        {
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: cancellationToken);
            return null;
        }
        catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 406)
        {
            return ex.ShutdownReason.ReplyText;
        }
    }

    private static Task<IConnection> ConnectAsync(RabbitMqOptions rabbit, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory
        {
            UserName = rabbit.Username,
            Password = rabbit.Password,
            VirtualHost = rabbit.VirtualHost,
            RequestedConnectionTimeout = rabbit.ConnectTimeout,
            ClientProvidedName = "consumers-queue-check",
            AutomaticRecoveryEnabled = false,
        };
        return factory.CreateConnectionAsync(rabbit.Endpoints().Select(n => new AmqpTcpEndpoint(n.Host, n.Port)).ToList(), cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Queue {Queue} was declared before priorities and RabbitMQ cannot add them in place: its jobs run in arrival order, whatever their priority (docs/rollout.md, Priority)")]
    private partial void LogPlainQueue(string queue);

    [LoggerMessage(Level = LogLevel.Information, Message = "Quorum queues: a job's priority is kept but jobs run in arrival order (RabbitMQ 3.10 quorum queues have no priorities)")]
    private partial void LogQuorum();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not check the job queues' arguments before start ({Error}); declaring them with priority: {Priority}")]
    private partial void LogUnchecked(string error, bool priority);
}

/// <summary>A job queue exists with arguments that contradict <see cref="RabbitMqOptions.Priority"/>; the worker does not start.</summary>
public sealed class QueuePriorityMismatchException(string queue, string message)
    : Exception(message + ". Set Consumers:RabbitMq:Priority to match the queue, or move it as docs/rollout.md (Priority) says")
{
    public string Queue { get; } = queue;
}
