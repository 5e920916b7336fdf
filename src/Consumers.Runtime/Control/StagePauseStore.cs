using Consumers.Runtime.Jobs;
using Npgsql;
using NpgsqlTypes;

namespace Consumers.Runtime.Control;

/// <summary>
/// The cluster-wide pauses (table <c>stage_pauses</c>). Every worker reads them every second (twice a second while it
/// runs jobs, <see cref="ControlPoller"/>), so a pause or resume reaches the whole cluster within that time.
/// </summary>
public sealed class StagePauseStore(NpgsqlDataSource dataSource)
{
    /// <summary>The paused stages: the workers' read.</summary>
    public const string ListStages = "SELECT stage FROM stage_pauses";

    /// <summary>Inserts the pause of @stage unless one exists; returns <c>stage</c> when it paused.</summary>
    private const string Pause =
        "INSERT INTO stage_pauses (stage, paused_by, reason) VALUES (@stage, @by, @reason) ON CONFLICT (stage) DO NOTHING RETURNING stage";

    /// <summary>Deletes the pause of @stage; returns <c>stage</c> when there was one.</summary>
    private const string Resume = "DELETE FROM stage_pauses WHERE stage = @stage RETURNING stage";

    /// <summary>Pauses <paramref name="stage"/>; false when it was paused already (the first pause's record stays).</summary>
    public async Task<bool> PauseAsync(string stage, string by, string? reason, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Pause);
        Bind(command.Parameters, stage, by, reason);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    /// <summary>Resumes <paramref name="stage"/>; false when it was not paused.</summary>
    public async Task<bool> ResumeAsync(string stage, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Resume);
        command.Parameters.Add(new NpgsqlParameter("stage", NpgsqlDbType.Varchar) { Value = stage });
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    public async Task<IReadOnlyList<StagePauseRecord>> ListAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT stage, paused_by, reason, paused_at FROM stage_pauses ORDER BY stage");
        var pauses = new List<StagePauseRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            pauses.Add(new StagePauseRecord
            {
                Stage = reader.GetString(0),
                PausedBy = reader.GetString(1),
                Reason = reader.IsDBNull(2) ? null : reader.GetString(2),
                PausedAt = reader.GetFieldValue<DateTimeOffset>(3),
            });
        }

        return pauses;
    }

    private static void Bind(NpgsqlParameterCollection parameters, string stage, string by, string? reason)
    {
        parameters.Add(new NpgsqlParameter("stage", NpgsqlDbType.Varchar) { Value = stage });
        parameters.Add(new NpgsqlParameter("by", NpgsqlDbType.Varchar) { Value = ControlLimits.Clip(by, ControlLimits.By)! });
        parameters.Add(new NpgsqlParameter("reason", NpgsqlDbType.Varchar) { Value = (object?)ControlLimits.Clip(reason, ControlLimits.Reason) ?? DBNull.Value });
    }
}
