using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Persistence;
using Microsoft.Extensions.Options;

namespace Consumers.IntegrationTests.Jobs;

/// <summary>
/// Many successes arriving together through the real batcher and its own transactions: each is fenced by its own lease
/// token, so in one batch a lost lease places and writes nothing for that job only, an artifact already under a key
/// rolls the batch back and the others are written again, and every held job ends succeeded with its own file.
/// </summary>
public sealed class CompletionBatchTests : IAsyncLifetime
{
    private const int Jobs = 24;
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task Concurrent_successes_with_some_leases_lost_and_one_key_taken_settle_each_job_on_its_own()
    {
        var artifacts = new FileSystemArtifactStore(Options.Create(new ArtifactOptions { Root = env.ArtifactRoot }));
        var attempts = new List<(JobLease Lease, StagedArtifact Staged, string Output)>();
        for (var i = 0; i < Jobs; i++)
        {
            var request = new JobRequested { JobId = Guid.NewGuid(), Stage = "synthetic", OutputKey = $"batch/{i}.json", MaxAttempts = 3 };
            Assert.True(await env.Store.SubmitAsync(request, 3, CancellationToken.None));
            var lease = (await env.Store.AcquireAsync(request, new AcquireSettings("w1", 60, 3600, 3), CancellationToken.None)).Lease!;
            var output = Path.Combine(env.ArtifactRoot, $"scratch-{i}");
            await File.WriteAllTextAsync(output, $"{{\"job\":{i}}}");
            attempts.Add((lease, (await artifacts.StageAsync(output, request.OutputKey, CancellationToken.None))!, output));
        }

        // Every fourth attempt has lost its lease (another attempt took the job); job 1's key got another attempt's file.
        var lost = attempts.Where((_, i) => i % 4 == 0).Select(a => a.Lease.JobId).ToHashSet();
        await using (var steal = env.DataSource.CreateCommand("UPDATE jobs SET lease_token = lease_token + 1000 WHERE id = ANY(@ids)"))
        {
            steal.Parameters.AddWithValue("ids", lost.ToArray());
            Assert.Equal(lost.Count, await steal.ExecuteNonQueryAsync());
        }

        var taken = attempts[1];
        var other = Path.Combine(env.ArtifactRoot, "scratch-other");
        await File.WriteAllTextAsync(other, "{\"other\":true}");
        Assert.NotNull(await artifacts.CommitAsync(other, taken.Staged.Key, CancellationToken.None));

        await using var transactions = new FinalizeTransactions(Options.Create(new DatabaseOptions { ConnectionString = env.ConnectionString }),
            Options.Create(new LeaseOptions()), new JobQueueName(ContractNames.JobQueue));
        var batcher = new CompletionBatcher(env.Store, artifacts, transactions);
        var writes = await Task.WhenAll(attempts.Select(a => Task.Run(() => batcher.PlaceAndSucceedAsync(
            Completion.Of(a.Lease, a.Staged.Record, [TimelineEntries.Completed(a.Staged.Record, TimeSpan.FromSeconds(1))], null) with { Staged = a.Staged }))));

        for (var i = 0; i < Jobs; i++)
        {
            var (lease, staged, _) = attempts[i];
            var row = (await env.JobAsync(lease.JobId))!;
            var placed = artifacts.PathOf(staged.Key);
            if (lost.Contains(lease.JobId))
            {
                Assert.Equal((CompletionWrite.LeaseLost, JobStatuses.Processing), (writes[i], row.Status));
                Assert.False(File.Exists(placed), $"job {i} placed its artifact without its lease");
                Assert.True(File.Exists(staged.StagedPath), $"job {i}'s unplaced file left staging");
            }
            else if (i == 1)
            {
                Assert.Equal((CompletionWrite.ArtifactExists, JobStatuses.Processing), (writes[i], row.Status));
                Assert.Equal("{\"other\":true}", await File.ReadAllTextAsync(placed));
                Assert.True(File.Exists(staged.StagedPath), "the refused file left staging");
            }
            else
            {
                Assert.Equal((CompletionWrite.Written, JobStatuses.Succeeded), (writes[i], row.Status));
                Assert.Equal($"{{\"job\":{i}}}", await File.ReadAllTextAsync(placed));
                Assert.Equal(staged.Sha256, row.ArtifactSha256);
                Assert.False(File.Exists(staged.StagedPath), $"job {i}'s placed file is still in staging");
            }
        }

        await env.AssertAllTimelinesValidAsync();
        Assert.Equal(Jobs - lost.Count - 1, await env.CountAsync("SELECT count(*) FROM job_events WHERE type = 'completed'"));
    }
}
