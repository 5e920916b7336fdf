using System.Text.Json;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Outbox;

namespace Consumers.IntegrationTests.Foundation;

/// <summary>
/// How the relay spends the database: a backlog costs one round (one transaction, one delete) per batch, the relay
/// does not LISTEN while it drains and listens again when it runs dry, and a failed publish holds back only its job.
/// Real worker, real broker, real database.
/// </summary>
public sealed class OutboxRelayRoundTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_backlog_of_rows_is_deleted_in_one_statement_per_batch()
    {
        const int BatchSize = 50;
        const int Rows = 230;
        await ExecuteAsync("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
        var relay = await StartRelayAsync(new() { ["Consumers:Outbox:BatchSize"] = BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var capture = await TimelineCapture.BindAsync(env);
        var before = await DeleteStatementsAsync();

        // One statement, one commit, one notification: the whole backlog is due at once.
        var job = Guid.NewGuid();
        await InsertEventsAsync(job, 1, Rows);

        await Eventually.WaitAsync(async () => await env.CountAsync("SELECT count(*) FROM outbox_messages") == 0,
            TimeSpan.FromSeconds(60), () => "the relay did not publish the backlog");
        var published = await capture.WaitForAsync(job, Rows);
        Assert.Equal(Enumerable.Range(1, Rows).Select(i => (long)i), published.Select(e => e.Sequence));
        Assert.True(relay.IsLeader);
        Assert.Equal((Rows + BatchSize - 1) / BatchSize, await DeleteStatementsAsync() - before);
    }

    [Fact]
    public async Task The_relay_stops_listening_while_it_drains_and_listens_again_when_dry()
    {
        // A long poll: only a notification can wake the idle relay within the test's patience.
        var relay = await StartRelayAsync(new()
        {
            ["Consumers:Outbox:BatchSize"] = "20",
            ["Consumers:Outbox:DrainInterval"] = "00:00:00.200",
            ["Consumers:Outbox:PollInterval"] = "00:02:00",
        });
        await Eventually.WaitAsync(() => Task.FromResult(relay.IsListening), TimeSpan.FromSeconds(30), () => "the idle relay does not listen");

        // Commits keep coming for about two seconds: the relay drains them in rounds without listening.
        var sawDraining = false;
        var job = Guid.NewGuid();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < 40; i++)
            {
                await InsertEventsAsync(job, i * 5 + 1, 5);
                await Task.Delay(50);
            }
        });
        while (!writer.IsCompleted)
        {
            sawDraining |= !relay.IsListening && await env.CountAsync("SELECT count(*) FROM outbox_messages") > 0;
            await Task.Delay(20);
        }

        await writer;
        Assert.True(sawDraining, "the relay kept listening while it had a backlog to publish");
        await Eventually.WaitAsync(async () => relay.IsListening && await env.CountAsync("SELECT count(*) FROM outbox_messages") == 0,
            TimeSpan.FromSeconds(30), () => "the relay did not drain the backlog and listen again");

        // Dry and listening: a new row is published on its notification, not on the two-minute poll.
        await InsertEventsAsync(job, 201, 1);
        await Eventually.WaitAsync(async () => await env.CountAsync("SELECT count(*) FROM outbox_messages") == 0,
            TimeSpan.FromSeconds(30), () => "a row committed after the drain waited for the poll");
    }

    [Fact]
    public async Task A_failed_publish_holds_back_its_job_only_and_its_events_are_published_in_order_later()
    {
        var relay = await StartRelayAsync(new()
        {
            ["Consumers:Outbox:RetryDelay"] = "00:00:00.200",
            ["Consumers:Outbox:MaxRetryDelay"] = "00:00:00.500",
            ["Consumers:Outbox:PollInterval"] = "00:00:00.500",
        });
        var capture = await TimelineCapture.BindAsync(env);
        var blocked = Guid.NewGuid();
        var flowing = Guid.NewGuid();

        // The blocked job's first message cannot be published (a type the relay does not know), its later ones could.
        var failing = await InsertEventsAsync(blocked, 1, 1, messageType: "NoSuchMessage");
        await InsertEventsAsync(blocked, 2, 2);
        await InsertEventsAsync(flowing, 1, 3);

        var other = await capture.WaitForAsync(flowing, 3);
        Assert.Equal([1L, 2L, 3L], other.Select(e => e.Sequence));
        await Eventually.WaitAsync(async () => await env.CountAsync($"SELECT attempts FROM outbox_messages WHERE id = {failing}") >= 2,
            TimeSpan.FromSeconds(30), () => "the failing row was not retried");
        Assert.Equal(3, await env.CountAsync($"SELECT count(*) FROM outbox_messages WHERE job_id = '{blocked}'"));
        await capture.DrainAsync();
        Assert.DoesNotContain(capture.Seen, e => e.JobId == blocked);

        // Once the message can be published, the job's events follow in their order.
        await ExecuteAsync($"UPDATE outbox_messages SET message_type = 'JobTimelineEvent' WHERE id = {failing}");
        var events = await capture.WaitForAsync(blocked, 3);
        Assert.Equal([1L, 2L, 3L], events.Select(e => e.Sequence));
        Assert.True(relay.IsLeader);
    }

    private async Task<OutboxRelay> StartRelayAsync(Dictionary<string, string?> outbox)
    {
        var worker = await env.StartWorkerAsync("relay", outbox);
        var relay = worker.Get<OutboxRelay>();
        await Eventually.WaitAsync(() => Task.FromResult(relay.IsLeader), TimeSpan.FromSeconds(30), () => "the relay did not lead");
        return relay;
    }

    /// <summary>Inserts <paramref name="count"/> timeline events of one job, sequences from <paramref name="first"/>, in one statement.</summary>
    private async Task<long> InsertEventsAsync(Guid jobId, int first, int count, string messageType = "JobTimelineEvent")
    {
        var body = JsonSerializer.Serialize(new { jobId, sequence = 0, type = "progress", attempt = 1, stage = "synthetic", occurredAt = DateTimeOffset.UtcNow, data = new { } });
        await using var command = env.DataSource.CreateCommand(
            "INSERT INTO outbox_messages (message_id, job_id, message_type, body) " +
            "SELECT gen_random_uuid(), @job, @type, jsonb_set(@body::jsonb, '{sequence}', to_jsonb(s)) FROM generate_series(@first, @last) s ORDER BY s RETURNING id");
        command.Parameters.AddWithValue("job", jobId);
        command.Parameters.AddWithValue("type", messageType);
        command.Parameters.AddWithValue("body", body);
        command.Parameters.AddWithValue("first", first);
        command.Parameters.AddWithValue("last", first + count - 1);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = env.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private Task<long> DeleteStatementsAsync() => env.CountAsync(
        "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) " +
        "AND (query LIKE 'DELETE FROM outbox_messages WHERE id = ANY%' OR query LIKE 'WITH sent AS (DELETE FROM outbox_messages WHERE id = ANY%')");
}
