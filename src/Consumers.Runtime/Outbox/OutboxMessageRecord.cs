namespace Consumers.Runtime.Outbox;

/// <summary>
/// A message waiting to be published, written in the same transaction as the state change that caused it.
/// The relay deletes the row once the broker has confirmed the publish.
/// </summary>
public sealed class OutboxMessageRecord
{
    /// <summary>Insertion order; a job's messages are published in this order.</summary>
    public long Id { get; set; }
    /// <summary>Becomes the published message's MessageId, so subscribers can deduplicate.</summary>
    public Guid MessageId { get; set; }
    public Guid JobId { get; set; }
    /// <summary>Contract name, for example <c>JobTimelineEvent</c>.</summary>
    public string MessageType { get; set; } = "";
    /// <summary>Null to publish; otherwise the queue to send to.</summary>
    public string? Destination { get; set; }
    public string Body { get; set; } = "{}";
    public DateTimeOffset CreatedAt { get; set; }
    public int Attempts { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }
    public string? LastError { get; set; }
    /// <summary>W3C traceparent of the transaction that wrote the row, so the publish joins the job's trace.</summary>
    public string? TraceParent { get; set; }
}
