namespace Consumers.Runtime.Leases;

/// <summary>One active lease as the heartbeat reports it.</summary>
public readonly record struct HeartbeatEntry(Guid JobId, long Token, int? ProgressPercent);
