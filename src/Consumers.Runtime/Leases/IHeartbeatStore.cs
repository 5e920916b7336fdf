namespace Consumers.Runtime.Leases;

/// <summary>
/// Where the heartbeat renews leases: one fenced statement for every active attempt. The job store implements it;
/// the heartbeat sees only this, so leases do not depend on the state machine that hands them out.
/// </summary>
internal interface IHeartbeatStore
{
    /// <summary>
    /// Renews every lease still held (and records its latest progress); returns which were renewed and which of those
    /// jobs carry a cancel request. <paramref name="timeout"/> bounds the statement on the server side too.
    /// </summary>
    Task<HeartbeatResult> HeartbeatAsync(IReadOnlyList<HeartbeatEntry> leases, TimeSpan timeout, CancellationToken cancellationToken);
}
