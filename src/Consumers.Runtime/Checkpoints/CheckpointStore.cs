using System.Text.Json;
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
}
