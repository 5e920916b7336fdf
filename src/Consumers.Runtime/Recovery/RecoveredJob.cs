namespace Consumers.Runtime.Recovery;

/// <summary>What the sweep did with one job.</summary>
/// <param name="Outcome">requeued_stale, requeued_hung, exhausted, quarantined or dispatched.</param>
public sealed record RecoveredJob(Guid JobId, string Outcome, string? PreviousWorker);
