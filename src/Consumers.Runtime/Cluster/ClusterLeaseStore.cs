using Consumers.Runtime.Persistence;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Consumers.Runtime.Cluster;

/// <summary>
/// The named statements of cluster leases (table <c>cluster_leases</c>). Every decision uses the server's clock
/// (<c>now()</c>), never a worker's. Each call is bounded by the caller's timeout, which must stay well under the
/// lease: a renew that hangs is as good as a renew that failed, and the holder's own clock decides when to stop.
/// </summary>
public sealed class ClusterLeaseStore([FromKeyedServices(DataSources.Cluster)] NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Takes the role when nobody has it or its lease has expired, with the next generation; otherwise changes
    /// nothing and returns no row. Two racing acquirers of an expired lease serialize on the row: the second sees
    /// the first one's fresh expiry and gets nothing.
    /// </summary>
    public const string Acquire =
        "INSERT INTO cluster_leases AS l (name, holder, generation, expires_at, acquired_at, renewed_at) " +
        "VALUES (@name, @holder, 1, now() + make_interval(secs => @seconds), now(), now()) " +
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, generation = l.generation + 1, " +
        "expires_at = excluded.expires_at, acquired_at = now(), renewed_at = now() " +
        "WHERE l.expires_at <= now() RETURNING generation";

    /// <summary>Extends the lease of this generation, only while it has not expired (an expired lease is re-acquired, with a new generation).</summary>
    public const string Renew =
        "UPDATE cluster_leases SET expires_at = now() + make_interval(secs => @seconds), renewed_at = now() " +
        "WHERE name = @name AND generation = @generation AND expires_at > now()";

    /// <summary>Gives the role up at once (a clean shutdown), so a standby need not wait for the expiry.</summary>
    public const string Release =
        "UPDATE cluster_leases SET expires_at = now() WHERE name = @name AND generation = @generation AND expires_at > now()";

    /// <summary>Who holds the role now (the row stays after an expiry; <c>held</c> says whether it is live).</summary>
    public const string Read =
        "SELECT holder, generation, expires_at > now() AS held FROM cluster_leases WHERE name = @name";

    /// <summary>
    /// The fence of a holder's write: a sub-select that is true only while this generation holds an unexpired
    /// lease. It takes a share lock on the lease row, so a takeover (which updates the row) waits for the fenced
    /// write to commit, and a fenced write that waited for a takeover sees the new generation and does nothing.
    /// Parameters <c>@lease</c> and <c>@generation</c>.
    /// </summary>
    public const string HeldByGeneration =
        "SELECT 1 FROM cluster_leases WHERE name = @lease AND generation = @generation AND expires_at > now() FOR SHARE";

    /// <summary>Returns the new generation, or null when someone else holds an unexpired lease.</summary>
    public async Task<long?> TryAcquireAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Acquire);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("holder", holder);
        command.Parameters.AddWithValue("seconds", duration.TotalSeconds);
        return await command.ExecuteScalarAsync(cancellationToken) is long generation ? generation : null;
    }

    /// <summary>True when this generation's lease was extended; false when it expired or was taken over.</summary>
    public async Task<bool> RenewAsync(string name, long generation, TimeSpan duration, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Renew);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("generation", generation);
        command.Parameters.AddWithValue("seconds", duration.TotalSeconds);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> ReleaseAsync(string name, long generation, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Release);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("generation", generation);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<(string Holder, long Generation, bool Held)?> ReadAsync(string name, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Read);
        command.Parameters.AddWithValue("name", name);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetString(0), reader.GetInt64(1), reader.GetBoolean(2)) : null;
    }
}
