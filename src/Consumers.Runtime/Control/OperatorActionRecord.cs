namespace Consumers.Runtime.Control;

/// <summary>One operator action (table <c>operator_actions</c>): what was done to what, by whom, why, and what came of it.</summary>
public sealed class OperatorActionRecord
{
    public long Id { get; set; }
    public DateTimeOffset At { get; set; }
    /// <summary><c>cancel</c>, <c>requeue</c>, <c>pause</c>, <c>resume</c>, <c>dead-letter-replay</c>.</summary>
    public string Action { get; set; } = "";
    /// <summary>A job id, a stage, or a queue.</summary>
    public string Target { get; set; } = "";
    public string By { get; set; } = "";
    public string? Reason { get; set; }
    public string? Outcome { get; set; }
}
