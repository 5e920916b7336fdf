namespace Consumers.Runtime.Jobs;

/// <summary>What an acquire writes into the lease: who holds it, how long it lives without a heartbeat, and the attempt's deadline.</summary>
/// <param name="RunsAlone">
/// The caller holds its worker's solo gate, so it may take a suspect job (one whose earlier attempt died with its
/// worker). Without it, a suspect is left queued and the outcome says <see cref="AcquireOutcomeKind.Suspect"/>.
/// </param>
public sealed record AcquireSettings(string Owner, int LeaseTimeoutSeconds, double DeadlineSeconds, int DefaultMaxAttempts, bool RunsAlone = false);
