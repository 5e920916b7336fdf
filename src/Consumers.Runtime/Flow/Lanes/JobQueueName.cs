namespace Consumers.Runtime.Flow.Lanes;

/// <summary>
/// The queue every job request arrives on (<c>Consumers:RabbitMq:JobQueue</c>): the shared lane consumes it, a stage's
/// own lane is <c>&lt;name&gt;.&lt;stage&gt;</c>, and dispatched retries are sent to it. A value of its own so that lanes
/// and the job store need the name, not the broker settings.
/// </summary>
public sealed record JobQueueName(string Value)
{
    public override string ToString() => Value;
}
