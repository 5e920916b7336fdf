namespace Consumers.Runtime.Leases;

/// <summary>What one heartbeat learned: the leases it renewed and which of those jobs were asked to cancel.</summary>
public sealed record HeartbeatResult(HashSet<Guid> Alive, HashSet<Guid> CancelRequested);
