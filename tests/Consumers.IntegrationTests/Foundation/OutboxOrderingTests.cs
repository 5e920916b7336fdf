using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Cluster;
using Consumers.Runtime.Outbox;

namespace Consumers.IntegrationTests.Foundation;

/// <summary>The relay's choice of due rows against the real database: a job's messages never overtake one that waits for a retry.</summary>
public sealed class OutboxOrderingTests : IAsyncLifetime
{
    private TestEnvironment env = null!;
    private long? generation;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task Rows_behind_a_failed_publish_of_the_same_job_wait_and_other_jobs_flow()
    {
        var blocked = Guid.NewGuid();
        var other = Guid.NewGuid();
        var first = await InsertAsync(blocked);
        var behind = await InsertAsync(blocked);
        var flowing = await InsertAsync(other);
        await DeferAsync(first, TimeSpan.FromMinutes(5));

        Assert.Equal([flowing], await SelectDueAsync());

        // Once its retry is due, the failed row goes first and the rows behind it follow, in order.
        await DeferAsync(first, TimeSpan.Zero);
        Assert.Equal([first, behind, flowing], await SelectDueAsync());
    }

    [Fact]
    public async Task A_later_failed_row_holds_back_only_the_rows_after_it()
    {
        var job = Guid.NewGuid();
        var before = await InsertAsync(job);
        var failed = await InsertAsync(job);
        var after = await InsertAsync(job);
        await DeferAsync(failed, TimeSpan.FromMinutes(5));

        Assert.Equal([before], await SelectDueAsync());
        Assert.DoesNotContain(after, await SelectDueAsync());
    }

    private async Task<long> InsertAsync(Guid jobId)
    {
        await using var command = env.DataSource.CreateCommand(
            "INSERT INTO outbox_messages (message_id, job_id, message_type, body) VALUES (gen_random_uuid(), @job, 'JobTimelineEvent', '{}'::jsonb) RETURNING id");
        command.Parameters.AddWithValue("job", jobId);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    // The relay's own statement for a failed publish (fenced by a relay lease this test holds); a zero delay makes the row due again.
    private async Task DeferAsync(long id, TimeSpan delay)
    {
        generation ??= await new ClusterLeaseStore(env.DataSource).TryAcquireAsync(OutboxRelay.LeaseName, "ordering-test", TimeSpan.FromMinutes(5), CancellationToken.None);
        await using var command = env.DataSource.CreateCommand(OutboxRelay.DeferFailed);
        command.Parameters.AddWithValue("lease", OutboxRelay.LeaseName);
        command.Parameters.AddWithValue("generation", generation!.Value);
        command.Parameters.AddWithValue("error", "broker unreachable");
        command.Parameters.AddWithValue("delay", delay.TotalSeconds);
        command.Parameters.AddWithValue("id", id);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<List<long>> SelectDueAsync()
    {
        await using var command = env.DataSource.CreateCommand(OutboxRelay.SelectDue);
        command.Parameters.AddWithValue("limit", 100);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<long>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetInt64(0));
        }

        return ids;
    }
}
