using System.Diagnostics;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Timeline;
using Npgsql;
using NpgsqlTypes;

namespace Consumers.Runtime.Jobs.Sql;

/// <summary>The parameters the job statements share, bound one way, and results read by column name.</summary>
internal static class SqlBinding
{
    public static NpgsqlParameterCollection Id(this NpgsqlParameterCollection parameters, Guid jobId)
    {
        parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = jobId });
        return parameters;
    }

    public static NpgsqlParameterCollection Lease(this NpgsqlParameterCollection parameters, JobLease lease)
    {
        parameters.Id(lease.JobId);
        parameters.Add(new NpgsqlParameter("token", NpgsqlDbType.Bigint) { Value = lease.Token });
        return parameters;
    }

    public static NpgsqlParameterCollection Text(this NpgsqlParameterCollection parameters, string name, string? value)
    {
        parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Text) { Value = (object?)value ?? DBNull.Value });
        return parameters;
    }

    public static NpgsqlParameterCollection Value<T>(this NpgsqlParameterCollection parameters, string name, NpgsqlDbType type, T value)
    {
        parameters.Add(new NpgsqlParameter(name, type) { Value = (object?)value ?? DBNull.Value });
        return parameters;
    }

    /// <summary>
    /// The outbox rows remember the trace of the work that wrote them (@trace_parent), so their publish joins it.
    /// Every statement that writes outbox rows binds it.
    /// </summary>
    public static NpgsqlParameterCollection TraceParent(this NpgsqlParameterCollection parameters)
    {
        var trace = Activity.Current;
        return parameters.Text("trace_parent", trace is { IdFormat: ActivityIdFormat.W3C } ? trace.Id : null);
    }

    /// <summary>Events for <see cref="TransitionSql.Events.Bound"/>, in order, and @trace_parent.</summary>
    public static NpgsqlParameterCollection Events(this NpgsqlParameterCollection parameters, IReadOnlyList<TimelineEntry> events)
    {
        parameters.Add(new NpgsqlParameter("event_types", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = events.Select(e => e.Type).ToArray() });
        parameters.Add(new NpgsqlParameter("event_data", NpgsqlDbType.Array | NpgsqlDbType.Text)
        {
            Value = events.Select(e => JsonSerializer.Serialize(e.Data, ContractJson.Options)).ToArray(),
        });
        parameters.Add(new NpgsqlParameter("event_attempts", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = events.Select(e => e.Attempt).ToArray() });
        return parameters.TraceParent();
    }

    /// <summary>The column <paramref name="name"/> of the current row; default when it is null.</summary>
    public static T? Column<T>(this NpgsqlDataReader reader, string name)
    {
        var ordinal = reader.GetOrdinal(name);
        return reader.IsDBNull(ordinal) ? default : reader.GetFieldValue<T>(ordinal);
    }
}
