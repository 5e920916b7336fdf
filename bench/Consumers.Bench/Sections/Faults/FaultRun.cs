namespace Consumers.Bench.Sections.Faults;

/// <summary>
/// What one injected fault cost: seconds from the fault to the first successor attempt's start, how long the cut-off
/// attempt kept working after that (negative: it stopped first), and what ended where it should not.
/// </summary>
public sealed record FaultRun(double? TakeoverSeconds, double? OverlapSeconds, long ErrorQueueMessages, long FailedJobs, long LostJobs);
