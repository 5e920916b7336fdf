using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Persistence;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Consumers.IntegrationTests.Jobs;

/// <summary>
/// The transaction in which a batch locks its rows and places artifacts: a session that stops answering inside it (a
/// frozen worker) is ended by the server, so its row locks do not outlive half the shortest lease.
/// </summary>
public sealed class FinalizeTransactionsTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_batch_left_idle_inside_its_transaction_loses_its_session_and_its_row_locks()
    {
        var request = new JobRequested { JobId = Guid.NewGuid(), Stage = "synthetic", OutputKey = $"{Guid.NewGuid():N}.json", MaxAttempts = 3 };
        Assert.True(await env.Store.SubmitAsync(request, 3, CancellationToken.None));
        var lease = (await env.Store.AcquireAsync(request, new AcquireSettings("w1", 60, 3600, 3), CancellationToken.None)).Lease!;
        var leases = new LeaseOptions { LeaseTimeout = TimeSpan.FromSeconds(4) };
        Assert.Equal(TimeSpan.FromSeconds(2), FinalizeTransactions.IdleInTransactionTimeout(leases));
        await using var transactions = new FinalizeTransactions(Options.Create(new DatabaseOptions { ConnectionString = env.ConnectionString }),
            Options.Create(leases), new JobQueueName(ContractNames.JobQueue));
        var locked = new TaskCompletionSource();

        var frozen = transactions.RunAsync(async (store, token) =>
        {
            var success = new Completion(lease, new ArtifactRecord(request.OutputKey, 1, new string('0', 64)), [TimelineEntries.Completed(
                new ArtifactRecord(request.OutputKey, 1, new string('0', 64)), TimeSpan.FromSeconds(1))], null, null);
            Assert.Contains(lease.JobId, await store.SucceedManyAsync([success], token));
            locked.SetResult();
            // A worker stopped here, between the success and its commit (where artifacts are placed), holds the row
            // until the server ends its session; the success is rolled back with it.
            await Task.Delay(TimeSpan.FromSeconds(6), token);
            return await store.IsLeaseHeldAsync(lease, token);
        }, CancellationToken.None);
        await locked.Task;
        var lockedAt = DateTimeOffset.UtcNow;

        // Blocked behind the lock at first; let through once the server ended the idle session (well before 6 s).
        await using (var update = env.DataSource.CreateCommand($"UPDATE jobs SET updated_at = now() WHERE id = '{lease.JobId}'"))
        {
            Assert.Equal(1, await update.ExecuteNonQueryAsync());
        }

        var waited = DateTimeOffset.UtcNow - lockedAt;
        Assert.InRange(waited, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(5));
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => frozen);
        Assert.Equal("processing", (await env.JobAsync(lease.JobId))!.Status);
    }
}
