using Npgsql;
using NpgsqlTypes;

namespace Consumers.Runtime.Control;

/// <summary>The operator audit (table <c>operator_actions</c>): every cancel, requeue, pause, resume and dead-letter replay, with who did it.</summary>
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
}
