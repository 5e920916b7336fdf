using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Cluster;
using Consumers.Runtime.Outbox;
using NpgsqlTypes;

namespace Consumers.IntegrationTests.Foundation;

/// <summary>The cluster-lease statements against the real database: takeover only after expiry, generations, fencing.</summary>
public sealed class ClusterLeaseTests : IAsyncLifetime
{
    private const string Lease = OutboxRelay.LeaseName;
    private TestEnvironment env = null!;
    private ClusterLeaseStore store = null!;

    public async Task InitializeAsync()
    {
        env = await TestEnvironment.CreateAsync();
        store = new ClusterLeaseStore(env.DataSource);
    }

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_live_lease_is_not_taken_over_and_an_expired_one_is_with_the_next_generation()
    {
        // Three seconds: the refused takeover and the renew must both come before it runs out, on a busy machine too.
        Assert.Equal(1, await store.TryAcquireAsync(Lease, "a", TimeSpan.FromSeconds(3), default));
        Assert.Null(await store.TryAcquireAsync(Lease, "b", TimeSpan.FromSeconds(30), default));
        Assert.True(await store.RenewAsync(Lease, 1, TimeSpan.FromSeconds(1), default));

        long? taken = null;
        await Eventually.WaitAsync(async () => (taken = await store.TryAcquireAsync(Lease, "b", TimeSpan.FromSeconds(30), default)) is not null,
            TimeSpan.FromSeconds(10), () => "the expired lease was never taken over");
        Assert.Equal(2, taken);
        Assert.Equal(("b", 2L, true), await store.ReadAsync(Lease, default));

        // The old holder's generation is dead for good: no renew, no release.
        Assert.False(await store.RenewAsync(Lease, 1, TimeSpan.FromSeconds(30), default));
        Assert.False(await store.ReleaseAsync(Lease, 1, default));
        Assert.Equal(("b", 2L, true), await store.ReadAsync(Lease, default));
    }

    [Fact]
    public async Task An_expired_lease_is_not_renewed_and_a_released_one_is_free_at_once()
    {
        Assert.Equal(1, await store.TryAcquireAsync(Lease, "a", TimeSpan.FromMilliseconds(200), default));
        await Eventually.WaitAsync(async () => (await store.ReadAsync(Lease, default))?.Held == false, TimeSpan.FromSeconds(10), () => "never expired");
        Assert.False(await store.RenewAsync(Lease, 1, TimeSpan.FromSeconds(30), default));

        Assert.Equal(2, await store.TryAcquireAsync(Lease, "a", TimeSpan.FromSeconds(30), default));
        Assert.True(await store.ReleaseAsync(Lease, 2, default));
        Assert.Equal(3, await store.TryAcquireAsync(Lease, "b", TimeSpan.FromSeconds(30), default));
    }

    [Fact]
    public async Task Racing_acquirers_of_an_expired_lease_get_one_winner()
    {
        Assert.Equal(1, await store.TryAcquireAsync(Lease, "old", TimeSpan.FromMilliseconds(100), default));
        await Eventually.WaitAsync(async () => (await store.ReadAsync(Lease, default))?.Held == false, TimeSpan.FromSeconds(10), () => "never expired");

        var results = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => store.TryAcquireAsync(Lease, $"racer-{i}", TimeSpan.FromSeconds(30), default)));
        Assert.Equal([2L], results.Where(r => r is not null).Select(r => r!.Value).ToArray());
    }

    [Fact]
    public async Task A_stale_generation_can_neither_delete_nor_defer_outbox_rows()
    {
        Assert.Equal(1, await store.TryAcquireAsync(Lease, "stale", TimeSpan.FromMilliseconds(200), default));
        var row = await InsertOutboxRowAsync();
        await Eventually.WaitAsync(async () => (await store.TryAcquireAsync(Lease, "new", TimeSpan.FromSeconds(30), default)) == 2,
            TimeSpan.FromSeconds(10), () => "no takeover");

        Assert.Equal(0, await DeleteAsync(row, generation: 1));
        Assert.Equal(0, await DeferAsync(row, generation: 1));
        Assert.Equal(1, await env.CountAsync($"SELECT count(*) FROM outbox_messages WHERE id = {row} AND attempts = 0"));

        // The current generation may.
        Assert.Equal(1, await DeferAsync(row, generation: 2));
        Assert.Equal(1, await DeleteAsync(row, generation: 2));
        Assert.Equal(0, await env.CountAsync($"SELECT count(*) FROM outbox_messages WHERE id = {row}"));
    }

    [Fact]
    public async Task An_expired_generation_that_nobody_took_over_cannot_delete_either()
    {
        Assert.Equal(1, await store.TryAcquireAsync(Lease, "sleepy", TimeSpan.FromMilliseconds(200), default));
        var row = await InsertOutboxRowAsync();
        await Eventually.WaitAsync(async () => (await store.ReadAsync(Lease, default))?.Held == false, TimeSpan.FromSeconds(10), () => "never expired");

        Assert.Equal(0, await DeleteAsync(row, generation: 1));
        Assert.Equal(1, await env.CountAsync($"SELECT count(*) FROM outbox_messages WHERE id = {row}"));
    }

    [Fact]
    public async Task A_round_deletes_what_was_sent_under_its_generation_and_reads_the_rest_in_one_statement()
    {
        Assert.Equal(1, await store.TryAcquireAsync(Lease, "stale", TimeSpan.FromMilliseconds(200), default));
        var sent = await InsertOutboxRowAsync();
        var next = await InsertOutboxRowAsync();
        await Eventually.WaitAsync(async () => (await store.TryAcquireAsync(Lease, "new", TimeSpan.FromSeconds(30), default)) == 2,
            TimeSpan.FromSeconds(10), () => "no takeover");

        // A stale generation deletes nothing, and says so (the relay then discards what it read).
        var (deleted, due) = await DeleteSentAndSelectDueAsync(sent, generation: 1);
        Assert.Equal(0, deleted);
        Assert.Equal(1, await env.CountAsync($"SELECT count(*) FROM outbox_messages WHERE id = {sent}"));

        // The current generation deletes, and the read, which sees the rows as they were, leaves the deleted one out.
        (deleted, due) = await DeleteSentAndSelectDueAsync(sent, generation: 2);
        Assert.Equal(1, deleted);
        Assert.Equal([next], due);
        Assert.Equal(0, await env.CountAsync($"SELECT count(*) FROM outbox_messages WHERE id = {sent}"));

        // Nothing left due: still one row, which carries the count and no message.
        (deleted, due) = await DeleteSentAndSelectDueAsync(next, generation: 2);
        Assert.Equal(1, deleted);
        Assert.Empty(due);
    }

    private async Task<(long Deleted, List<long> Due)> DeleteSentAndSelectDueAsync(long sent, long generation)
    {
        await using var command = env.DataSource.CreateCommand(OutboxRelay.DeleteSentAndSelectDue);
        command.Parameters.AddWithValue("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint, new[] { sent });
        command.Parameters.AddWithValue("lease", Lease);
        command.Parameters.AddWithValue("generation", generation);
        command.Parameters.AddWithValue("limit", 100);
        await using var reader = await command.ExecuteReaderAsync();
        long deleted = -1;
        var due = new List<long>();
        while (await reader.ReadAsync())
        {
            deleted = reader.GetInt64(0);
            if (!reader.IsDBNull(1))
            {
                due.Add(reader.GetInt64(1));
            }
        }

        return (deleted, due);
    }

    private async Task<long> InsertOutboxRowAsync()
    {
        await using var command = env.DataSource.CreateCommand(
            "INSERT INTO outbox_messages (message_id, job_id, message_type, body) VALUES (gen_random_uuid(), gen_random_uuid(), 'JobTimelineEvent', '{}'::jsonb) RETURNING id");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<int> DeleteAsync(long id, long generation)
    {
        await using var command = env.DataSource.CreateCommand(OutboxRelay.DeleteSent);
        command.Parameters.AddWithValue("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint, new[] { id });
        command.Parameters.AddWithValue("lease", Lease);
        command.Parameters.AddWithValue("generation", generation);
        return await command.ExecuteNonQueryAsync();
    }

    private async Task<int> DeferAsync(long id, long generation)
    {
        await using var command = env.DataSource.CreateCommand(OutboxRelay.DeferFailed);
        command.Parameters.AddWithValue("error", "broker unreachable");
        command.Parameters.AddWithValue("delay", 0.0);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("lease", Lease);
        command.Parameters.AddWithValue("generation", generation);
        return await command.ExecuteNonQueryAsync();
    }
}
