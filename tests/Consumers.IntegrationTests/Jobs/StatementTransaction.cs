using System.Globalization;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Jobs.Sql;
using Consumers.Runtime.Messaging;
using Consumers.Runtime.Recovery;
using Consumers.Runtime.Timeline;
using Npgsql;

namespace Consumers.IntegrationTests.Jobs;

/// <summary>One database shared by a test class whose tests each work inside a transaction that is rolled back.</summary>
public sealed class SharedDatabase : IAsyncLifetime
{
    public TestEnvironment Env { get; private set; } = null!;

    public async Task InitializeAsync() => Env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await Env.DisposeAsync();
}

/// <summary>
/// A test's own transaction on the shared database: the stores run every statement inside it and it is rolled back at
/// the end, so the tests leave nothing behind and never see each other's rows. Within it <c>now()</c> is the
/// transaction's start, which every statement reads alike.
/// </summary>
public sealed class StatementTransaction : IAsyncDisposable
{
    private readonly NpgsqlTransaction transaction;

    private StatementTransaction(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        Connection = connection;
        this.transaction = transaction;
        var target = new SqlTarget(connection);
        Jobs = new JobStore(target, new JobQueueName(new RabbitMqOptions().JobQueue));
        Sweep = new RecoveryStore(target, new JobQueueName(new RabbitMqOptions().JobQueue));
        Pipelines = new Runtime.Pipelines.PipelineStore(target, new JobQueueName(new RabbitMqOptions().JobQueue));
    }

    public NpgsqlConnection Connection { get; }
    public JobStore Jobs { get; }
    public RecoveryStore Sweep { get; }
    public Runtime.Pipelines.PipelineStore Pipelines { get; }

    public static async Task<StatementTransaction> BeginAsync(TestEnvironment env)
    {
        var connection = await env.DataSource.OpenConnectionAsync();
        return new StatementTransaction(connection, await connection.BeginTransactionAsync());
    }

    public async Task<long> CountAsync(string sql)
    {
        await using var command = new NpgsqlCommand(sql, Connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = new NpgsqlCommand(sql, Connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var command = new NpgsqlCommand(sql, Connection);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<List<JobEventRecord>> TimelineAsync(Guid jobId)
    {
        var events = new List<JobEventRecord>();
        await using var command = new NpgsqlCommand(
            "SELECT job_id, seq, type, attempt, occurred_at, data::text AS data FROM job_events WHERE job_id = @id ORDER BY seq", Connection);
        command.Parameters.AddWithValue("id", jobId);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            events.Add(new JobEventRecord
            {
                JobId = reader.GetGuid(reader.GetOrdinal("job_id")),
                Seq = reader.GetInt64(reader.GetOrdinal("seq")),
                Type = reader.GetString(reader.GetOrdinal("type")),
                Attempt = reader.GetInt32(reader.GetOrdinal("attempt")),
                OccurredAt = reader.GetFieldValue<DateTimeOffset>(reader.GetOrdinal("occurred_at")),
                Data = reader.GetString(reader.GetOrdinal("data")),
            });
        }

        return events;
    }

    /// <summary>The outbox rows of <paramref name="jobId"/> in the order the relay publishes them.</summary>
    public async Task<List<(string Type, string? Destination, string Body, string? TraceParent)>> OutboxAsync(Guid jobId)
    {
        var rows = new List<(string, string?, string, string?)>();
        await using var command = new NpgsqlCommand(
            "SELECT message_type, destination, body::text AS body, trace_parent FROM outbox_messages WHERE job_id = @id ORDER BY id", Connection);
        command.Parameters.AddWithValue("id", jobId);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }

        return rows;
    }

    /// <summary>Checks the timeline of every job in the transaction against the rules.</summary>
    public async Task AssertTimelinesValidAsync(params Guid[] jobIds)
    {
        foreach (var jobId in jobIds)
        {
            var violations = TimelineChecker.Check(jobId, await TimelineAsync(jobId));
            Assert.True(violations.Count == 0, "timeline violations:\n" + string.Join("\n", violations));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await transaction.RollbackAsync();
        await transaction.DisposeAsync();
        await Connection.DisposeAsync();
    }
}
