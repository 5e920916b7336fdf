namespace Consumers.Runtime.Jobs;

/// <summary>What an acquire writes into the lease: who holds it, how long it lives without a heartbeat, and the attempt's deadline.</summary>
public sealed record AcquireSettings(string Owner, int LeaseTimeoutSeconds, double DeadlineSeconds, int DefaultMaxAttempts);
