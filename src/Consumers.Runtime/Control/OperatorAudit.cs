using Npgsql;
using NpgsqlTypes;

namespace Consumers.Runtime.Control;

/// <summary>
/// The operator audit (table <c>operator_actions</c>): every cancel, requeue, pause, resume and dead-letter replay, with
/// who did it. Written and read here (the admin API's audit view reads <see cref="ListAsync"/>).
/// </summary>
public sealed class OperatorAudit(NpgsqlDataSource dataSource)
{
    public async Task RecordAsync(string action, string target, string by, string? reason, string? outcome, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "INSERT INTO operator_actions (action, target, by, reason, outcome) VALUES (@action, @target, @by, @reason, @outcome)");
        command.Parameters.Add(new NpgsqlParameter("action", NpgsqlDbType.Varchar) { Value = action });
        command.Parameters.Add(new NpgsqlParameter("target", NpgsqlDbType.Varchar) { Value = ControlLimits.Clip(target, 256)! });
        command.Parameters.Add(new NpgsqlParameter("by", NpgsqlDbType.Varchar) { Value = ControlLimits.Clip(by, ControlLimits.By)! });
        command.Parameters.Add(new NpgsqlParameter("reason", NpgsqlDbType.Varchar) { Value = (object?)ControlLimits.Clip(reason, ControlLimits.Reason) ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("outcome", NpgsqlDbType.Varchar) { Value = (object?)ControlLimits.Clip(outcome, 64) ?? DBNull.Value });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The newest actions first, at most <paramref name="limit"/>; only those on <paramref name="target"/> when given.</summary>
    public async Task<List<OperatorActionRecord>> ListAsync(string? target, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT id, at, action, target, by, reason, outcome FROM operator_actions WHERE (@target::varchar IS NULL OR target = @target) " +
            "ORDER BY at DESC, id DESC LIMIT @limit");
        command.Parameters.Add(new NpgsqlParameter("target", NpgsqlDbType.Varchar) { Value = (object?)target ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("limit", NpgsqlDbType.Integer) { Value = limit });
        var actions = new List<OperatorActionRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            actions.Add(new OperatorActionRecord
            {
                Id = reader.GetInt64(0),
                At = reader.GetFieldValue<DateTimeOffset>(1),
                Action = reader.GetString(2),
                Target = reader.GetString(3),
                By = reader.GetString(4),
                Reason = reader.IsDBNull(5) ? null : reader.GetString(5),
                Outcome = reader.IsDBNull(6) ? null : reader.GetString(6),
            });
        }

        return actions;
    }
}
