namespace Consumers.Runtime.Cluster;

/// <summary>
/// A role that one worker holds for the whole cluster (for example the outbox relay), as a row with an expiry its
/// holder renews. Anyone may take it over once it has expired, which increments <see cref="Generation"/>: the
/// generation fences the holder's writes, so a holder that was frozen or cut off past its expiry changes nothing.
/// </summary>
public sealed class ClusterLeaseRecord
{
    /// <summary>The role, for example <c>outbox-relay</c>.</summary>
    public string Name { get; set; } = "";
    /// <summary>Who holds (or last held) it: worker id and process.</summary>
    public string Holder { get; set; } = "";
    /// <summary>Incremented by every acquire; the fencing token of the holder's writes.</summary>
    public long Generation { get; set; }
    /// <summary>Server time after which anyone may take the role over.</summary>
    public DateTimeOffset ExpiresAt { get; set; }
    public DateTimeOffset AcquiredAt { get; set; }
    public DateTimeOffset RenewedAt { get; set; }
}
