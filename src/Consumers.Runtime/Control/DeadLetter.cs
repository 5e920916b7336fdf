namespace Consumers.Runtime.Control;

/// <summary>
/// One message in an error queue as MassTransit left it: its identity, the fault headers that say why it is there,
/// and whether it would be accepted as a job if it were sent back (<see cref="Problem"/> says why not).
/// </summary>
public sealed record DeadLetter(
    string Queue,
    string? MessageId,
    Guid? JobId,
    string? Stage,
    string? Reason,
    string? ExceptionType,
    string? FaultMessage,
    string? FaultedAt,
    string? Problem,
    string Body)
{
    public bool Valid => Problem is null;

    /// <summary>The queue it failed on (MassTransit names the error queue after it: <c>{queue}_error</c>).</summary>
    public string SourceQueue => Queue.EndsWith(DeadLetterQueues.ErrorSuffix, StringComparison.Ordinal)
        ? Queue[..^DeadLetterQueues.ErrorSuffix.Length]
        : Queue;
}

/// <summary>What a replay did with the messages of one error queue.</summary>
public sealed record ReplayResult(string Queue, IReadOnlyList<DeadLetter> Replayed, IReadOnlyList<DeadLetter> Kept);
