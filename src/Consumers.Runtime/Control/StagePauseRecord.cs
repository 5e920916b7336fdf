namespace Consumers.Runtime.Control;

/// <summary>A paused stage (table <c>stage_pauses</c>): no worker starts a job of it until the row is gone.</summary>
public sealed class StagePauseRecord
{
    public string Stage { get; set; } = "";
    public string PausedBy { get; set; } = "";
    public string? Reason { get; set; }
    public DateTimeOffset PausedAt { get; set; }
}
