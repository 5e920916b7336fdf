using System.Text;
using System.Text.Json;
using Consumers.Runtime.Flow;
using Consumers.Runtime.Messaging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Consumers.Runtime.Control;

/// <summary>
/// Reads and replays the job error queues (<c>consumers.jobs_error</c> and each lane's <c>_error</c> queue) over AMQP.
/// Reading takes the messages without acknowledging them and gives them all back when the channel closes, so a look
/// changes nothing but their redelivered flag. A replay sends a valid message back to the queue it failed on (with
/// its message id and headers, without the fault headers), waits for the broker's confirm, and only then acknowledges
/// it in the error queue: a message is replayed at most once per run, and a crash between the two leaves a duplicate
/// that the acquire skips.
/// </summary>
public sealed class DeadLetterQueues(IOptions<RabbitMqOptions> rabbitOptions, IOptions<FlowOptions> flowOptions)
{
    public const string ErrorSuffix = "_error";

    /// <summary>The error queues of the job queue and of every configured lane.</summary>
    public IReadOnlyList<string> ErrorQueues()
    {
        var rabbit = rabbitOptions.Value;
        return [rabbit.JobQueue + ErrorSuffix,
            .. flowOptions.Value.Stages.Where(s => s.Value.Slots > 0).Select(s => $"{rabbit.JobQueue}.{s.Key}{ErrorSuffix}").Order(StringComparer.Ordinal)];
    }

    /// <summary>Up to <paramref name="limit"/> messages of <paramref name="queue"/>, left in place; empty when the queue does not exist.</summary>
    public async Task<IReadOnlyList<DeadLetter>> PeekAsync(string queue, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await ConnectAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        if (!await ExistsAsync(connection, queue, cancellationToken))
        {
            return [];
        }

        var letters = new List<DeadLetter>();
        while (letters.Count < limit && await channel.BasicGetAsync(queue, autoAck: false, cancellationToken) is { } message)
        {
            letters.Add(Read(queue, message));
            if (message.MessageCount == 0)
            {
                break;
            }
        }

        // Closing the channel returns every unacknowledged message to the queue.
        await channel.CloseAsync(cancellationToken);
        return letters;
    }

    /// <summary>
    /// Messages ready in each of <paramref name="queues"/> (null for a queue that does not exist), read by a passive
    /// declare: nothing is taken. The admin views use it for the error queues, the lanes and the parking queues.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, long?>> DepthsAsync(IEnumerable<string> queues, CancellationToken cancellationToken)
    {
        await using var connection = await ConnectAsync(cancellationToken);
        var depths = new Dictionary<string, long?>(StringComparer.Ordinal);
        foreach (var queue in queues)
        {
            // A passive declare of a missing queue closes its channel: one channel per queue.
            await using var probe = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
            try
            {
                depths[queue] = (await probe.QueueDeclarePassiveAsync(queue, cancellationToken)).MessageCount;
            }
            catch (OperationInterruptedException)
            {
                depths[queue] = null;
            }
        }

        return depths;
    }

    /// <summary>Sends the valid messages <paramref name="select"/> picks back to their queue and removes them from <paramref name="queue"/>.</summary>
    public async Task<ReplayResult> ReplayAsync(string queue, Func<DeadLetter, bool> select, CancellationToken cancellationToken)
    {
        await using var connection = await ConnectAsync(cancellationToken);
        if (!await ExistsAsync(connection, queue, cancellationToken))
        {
            return new ReplayResult(queue, [], []);
        }

        await using var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
        var replayed = new List<DeadLetter>();
        var kept = new List<DeadLetter>();
        // Only what was there at the start: messages kept are not acknowledged, so the get never sees them twice.
        var remaining = await channel.MessageCountAsync(queue, cancellationToken);
        while (remaining-- > 0 && await channel.BasicGetAsync(queue, autoAck: false, cancellationToken) is { } message)
        {
            var letter = Read(queue, message);
            if (!letter.Valid || !select(letter))
            {
                kept.Add(letter);
                continue;
            }

            var properties = new BasicProperties
            {
                MessageId = message.BasicProperties.MessageId,
                ContentType = message.BasicProperties.ContentType,
                CorrelationId = message.BasicProperties.CorrelationId,
                // The job's priority is in its request: a dead letter moved without the AMQP property still gets it back.
                Priority = PriorityOf(letter.Body),
                Persistent = true,
                Headers = message.BasicProperties.Headers?
                    .Where(h => !h.Key.StartsWith("MT-Fault-", StringComparison.Ordinal) && h.Key != "MT-Reason")
                    .ToDictionary(h => h.Key, h => h.Value),
            };
            // The default exchange routes by queue name whatever the queue's type; mandatory: a missing queue fails the send.
            await channel.BasicPublishAsync("", letter.SourceQueue, mandatory: true, properties, message.Body, cancellationToken);
            await channel.BasicAckAsync(message.DeliveryTag, multiple: false, cancellationToken);
            replayed.Add(letter);
        }

        await channel.CloseAsync(cancellationToken);
        return new ReplayResult(queue, replayed, kept);
    }

    private async Task<IConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        var rabbit = rabbitOptions.Value;
        var nodes = rabbit.Endpoints();
        var factory = new ConnectionFactory
        {
            UserName = rabbit.Username,
            Password = rabbit.Password,
            VirtualHost = rabbit.VirtualHost,
            Port = nodes[0].Port,
            ClientProvidedName = "consumers-dead-letters",
        };
        return await factory.CreateConnectionAsync(nodes.Select(n => n.Host).Distinct().ToList(), cancellationToken);
    }

    // A passive declare of a missing queue closes its channel: ask on a channel of its own.
    private static async Task<bool> ExistsAsync(IConnection connection, string queue, CancellationToken cancellationToken)
    {
        await using var probe = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        try
        {
            await probe.QueueDeclarePassiveAsync(queue, cancellationToken);
            return true;
        }
        catch (OperationInterruptedException)
        {
            return false;
        }
    }

    private static DeadLetter Read(string queue, BasicGetResult message)
    {
        var headers = message.BasicProperties.Headers;
        string? Header(string name) => headers is not null && headers.TryGetValue(name, out var value)
            ? value switch { byte[] bytes => Encoding.UTF8.GetString(bytes), null => null, _ => value.ToString() }
            : null;

        var body = Encoding.UTF8.GetString(message.Body.Span);
        var (jobId, stage, problem) = Inspect(body);
        return new DeadLetter(queue, message.BasicProperties.MessageId, jobId, stage, Header("MT-Reason"), Header("MT-Fault-ExceptionType"),
            Header("MT-Fault-Message"), Header("MT-Fault-Timestamp"), problem, body);
    }

    /// <summary>Would this body be accepted as a job: a JSON object (plain or a MassTransit envelope) with a job id and fields of the right types.</summary>
    public static (Guid? JobId, string? Stage, string? Problem) Inspect(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, null, "the body is not a JSON object");
            }

            var request = root.TryGetProperty("message", out var inner) && inner.ValueKind == JsonValueKind.Object ? inner : root;
            if (JobRequestShape.Inspect(root) is { } shape)
            {
                return (shape.Partial?.JobId, shape.Partial?.Stage, shape.Problem);
            }

            var jobId = Property(request, "jobId") is { ValueKind: JsonValueKind.String } id && Guid.TryParse(id.GetString(), out var parsed) && parsed != Guid.Empty
                ? parsed
                : (Guid?)null;
            var stage = Property(request, "stage") is { ValueKind: JsonValueKind.String } s ? s.GetString() : null;
            return jobId is null ? (null, stage, "no usable jobId") : (jobId, stage, null);
        }
        catch (JsonException ex)
        {
            return (null, null, "not JSON: " + ex.Message);
        }
    }

    /// <summary>The request's <c>priority</c> (plain or in a MassTransit envelope), or the default when it names none.</summary>
    public static byte PriorityOf(string body)
    {
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        var request = Property(root, "message") is { ValueKind: JsonValueKind.Object } inner ? inner : root;
        var priority = Property(request, "priority") is { ValueKind: JsonValueKind.Number } value && value.TryGetInt32(out var number)
            ? number
            : Contracts.JobPriority.Default;
        return (byte)Math.Clamp(priority, Contracts.JobPriority.Lowest, Contracts.JobPriority.Highest);
    }

    private static JsonElement? Property(JsonElement element, string name)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return property.Value;
            }
        }

        return null;
    }
}
