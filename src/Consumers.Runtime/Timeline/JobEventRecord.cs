namespace Consumers.Runtime.Timeline;

/// <summary>One row of a job's timeline (<c>job_events</c>), keyed by (job id, seq).</summary>
public sealed class JobEventRecord
{
    public Guid JobId { get; set; }
    public long Seq { get; set; }
    public string Type { get; set; } = "";
    public int Attempt { get; set; }
    public DateTimeOffset OccurredAt { get; set; }
    /// <summary>Event details as a JSON object of strings.</summary>
    public string Data { get; set; } = "{}";
}
