using System.Text.Json;
using System.Text.Json.Nodes;
using Consumers.Runtime.Leases;
using Npgsql;
using NpgsqlTypes;

namespace Consumers.Runtime.Checkpoints;

/// <summary>The rows of <c>job_checkpoints</c>; statements in <see cref="CheckpointSql"/>.</summary>
public sealed class CheckpointStore(NpgsqlDataSource dataSource)
{
    /// <summary>The stored row of a job, or null: (attempt, state JSON, parts, saves).</summary>
    public async Task<(int Attempt, string State, IReadOnlyList<CheckpointPart> Parts, int Saves)?> LoadAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CheckpointSql.Load);
        command.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = jobId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var parts = JsonSerializer.Deserialize<List<CheckpointPart>>(reader.GetString(2), ContractJson.Options) ?? [];
        return (reader.GetInt32(0), reader.GetString(1), parts, reader.GetInt32(3));
    }

    /// <summary>Writes the checkpoint of the attempt holding <paramref name="lease"/>; false when the lease is no longer its own (nothing written).</summary>
    public async Task<bool> SaveAsync(JobLease lease, string state, IReadOnlyList<CheckpointPart> parts, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CheckpointSql.Save);
        command.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = lease.JobId });
        command.Parameters.Add(new NpgsqlParameter("token", NpgsqlDbType.Bigint) { Value = lease.Token });
        command.Parameters.Add(new NpgsqlParameter("attempt", NpgsqlDbType.Integer) { Value = lease.Attempt });
        command.Parameters.Add(new NpgsqlParameter("state", NpgsqlDbType.Text) { Value = state });
        command.Parameters.Add(new NpgsqlParameter("parts", NpgsqlDbType.Text) { Value = JsonSerializer.Serialize(parts, ContractJson.Options) });
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    /// <summary>Deletes the checkpoint row of a finished job (never of one that can still run).</summary>
    public async Task ClearFinishedAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CheckpointSql.ClearFinished);
        command.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = jobId });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Deletes the checkpoint rows of every finished job; returns how many went.</summary>
    public async Task<int> ClearAllFinishedAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CheckpointSql.ClearAllFinished);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Of <paramref name="jobIds"/>, the jobs that exist and have not finished.</summary>
    public async Task<HashSet<Guid>> UnfinishedAsync(IReadOnlyCollection<Guid> jobIds, CancellationToken cancellationToken)
    {
        var unfinished = new HashSet<Guid>();
        await using var command = dataSource.CreateCommand(CheckpointSql.Unfinished);
        command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = jobIds.ToArray() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            unfinished.Add(reader.GetGuid(0));
        }

        return unfinished;
    }

    /// <summary>
    /// Merges a segment job's checkpoint into its parent's (<paramref name="parent"/>) while the segment job holds
    /// <paramref name="lease"/>: the parts are added (by name) and the state is merged into the parent's (objects member
    /// by member, nulls left out), so segment jobs writing at once each add theirs. False when fenced (nothing written).
    /// </summary>
    public async Task<bool> SaveToParentAsync(JobLease lease, Guid parent, string state, IReadOnlyList<CheckpointPart> parts, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        NpgsqlCommand Command(string sql)
        {
            var command = new NpgsqlCommand(sql, connection, transaction);
            command.Parameters.Add(new NpgsqlParameter("parent", NpgsqlDbType.Uuid) { Value = parent });
            command.Parameters.Add(new NpgsqlParameter("token", NpgsqlDbType.Bigint) { Value = lease.Token });
            return command;
        }

        await using (var fence = Command(CheckpointSql.FenceSegmentJob))
        {
            fence.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = lease.JobId });
            if (await fence.ExecuteScalarAsync(cancellationToken) is null)
            {
                return false;
            }
        }

        await using (var ensure = Command(CheckpointSql.EnsureParentRow))
        {
            await ensure.ExecuteNonQueryAsync(cancellationToken);
        }

        string storedState;
        List<CheckpointPart> storedParts;
        await using (var load = Command(CheckpointSql.LoadParentForUpdate))
        await using (var reader = await load.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            storedState = reader.GetString(0);
            storedParts = JsonSerializer.Deserialize<List<CheckpointPart>>(reader.GetString(1), ContractJson.Options) ?? [];
        }

        var mergedParts = storedParts.Where(p => parts.All(n => n.Name != p.Name)).Concat(parts).ToList();
        var mergedState = MergeState(JsonNode.Parse(storedState), JsonNode.Parse(state));
        await using (var write = Command(CheckpointSql.WriteParent))
        {
            write.Parameters.Add(new NpgsqlParameter("state", NpgsqlDbType.Text) { Value = mergedState?.ToJsonString() ?? "{}" });
            write.Parameters.Add(new NpgsqlParameter("parts", NpgsqlDbType.Text) { Value = JsonSerializer.Serialize(mergedParts, ContractJson.Options) });
            await write.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>The parent the row of <paramref name="jobId"/> names and that parent's status (nulls: none).</summary>
    public async Task<(Guid? Parent, string? ParentStatus)> SegmentJobParentAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CheckpointSql.SegmentJobParent);
        command.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = jobId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) && !reader.IsDBNull(0)
            ? (reader.GetGuid(0), reader.IsDBNull(1) ? null : reader.GetString(1))
            : (null, null);
    }

    /// <summary>How the segment jobs of <paramref name="jobId"/> stand, or null when it has none.</summary>
    public async Task<SegmentJobsState?> SegmentJobsAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CheckpointSql.SegmentJobs);
        command.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = jobId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var state = new SegmentJobsState(reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2));
        return state.Total == 0 ? null : state;
    }

    /// <summary>
    /// <paramref name="addition"/> merged into <paramref name="stored"/>: objects member by member (recursively), a null
    /// member of the addition left out (it does not erase what another segment job recorded), anything else replaced.
    /// </summary>
    public static JsonNode? MergeState(JsonNode? stored, JsonNode? addition)
    {
        if (stored is not JsonObject into || addition is not JsonObject from)
        {
            return addition?.DeepClone() ?? stored;
        }

        foreach (var (name, value) in from)
        {
            if (value is null)
            {
                continue;
            }

            into[name] = into[name] is JsonObject && value is JsonObject ? MergeState(into[name]!.DeepClone(), value) : value.DeepClone();
        }

        return into;
    }
}
