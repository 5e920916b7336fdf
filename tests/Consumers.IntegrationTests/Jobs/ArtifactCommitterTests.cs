using Consumers.Contracts;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Stages;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Consumers.IntegrationTests.Jobs;

/// <summary>
/// The existing-artifact path against the real database (in a rolled-back transaction): a skip is an outcome only
/// once its write landed; an attempt whose lease was taken meanwhile reports the lost lease, not a skip.
/// </summary>
public sealed class ArtifactCommitterTests(SharedDatabase database) : IClassFixture<SharedDatabase>, IDisposable
{
    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    [Fact]
    public async Task An_existing_valid_artifact_finishes_the_job_as_skipped()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var (request, lease) = await AcquireWithArtifactAsync(tx);

        var outcome = await Committer(tx).TrySkipExistingAsync(request, new ActiveJob(lease, 0), Stage());

        Assert.Equal(AttemptOutcome.Skipped, outcome);
        Assert.Equal("succeeded", await tx.ScalarAsync<string>($"SELECT status FROM jobs WHERE id = '{lease.JobId}'"));
        Assert.Equal(TimelineEventTypes.Skipped, (await tx.TimelineAsync(lease.JobId)).Last().Type);
        await tx.AssertTimelinesValidAsync(lease.JobId);
    }

    [Fact]
    public async Task A_skip_whose_lease_was_taken_meanwhile_is_a_lost_lease_not_a_skip()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var (request, lease) = await AcquireWithArtifactAsync(tx);
        // The sweep requeued the attempt and another worker took the job: this attempt's token is superseded.
        await tx.ExecuteAsync($"UPDATE jobs SET last_heartbeat_at = now() - interval '2 minutes' WHERE id = '{lease.JobId}'");
        Assert.Single(await tx.Sweep.RecoverStaleAsync(new Runtime.Recovery.RecoveryOptions(), 1, dryRun: false, CancellationToken.None));
        Assert.Equal(AcquireOutcomeKind.Acquired,
            (await tx.Jobs.AcquireAsync(request, new AcquireSettings("w2", 60, 3600, 3, RunsAlone: true), CancellationToken.None)).Kind);

        var outcome = await Committer(tx).TrySkipExistingAsync(request, new ActiveJob(lease, 0), Stage());

        Assert.Equal(AttemptOutcome.LeaseLost, outcome);
        Assert.Equal("processing", await tx.ScalarAsync<string>($"SELECT status FROM jobs WHERE id = '{lease.JobId}'"));
        Assert.DoesNotContain(await tx.TimelineAsync(lease.JobId), e => e.Type == TimelineEventTypes.Skipped);
        await tx.AssertTimelinesValidAsync(lease.JobId);
    }

    [Fact]
    public async Task No_artifact_means_run_the_stage()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var request = new JobRequested { JobId = Guid.NewGuid(), Stage = "synthetic", OutputKey = $"{Guid.NewGuid():N}.json", MaxAttempts = 3 };
        var lease = (await tx.Jobs.AcquireAsync(request, new AcquireSettings("w1", 60, 3600, 3), CancellationToken.None)).Lease!;

        Assert.Null(await Committer(tx).TrySkipExistingAsync(request, new ActiveJob(lease, 0), Stage()));
        Assert.Equal("processing", await tx.ScalarAsync<string>($"SELECT status FROM jobs WHERE id = '{lease.JobId}'"));
    }

    [Fact]
    public async Task A_commit_places_the_artifact_under_its_held_lease_and_records_it_with_the_success()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var (request, lease, output) = await AcquireWithOutputAsync(tx);

        var outcome = await Committer(tx).CommitAsync(request, new ActiveJob(lease, 0), Stage(), new StageOutput(output), 0, TimeSpan.FromSeconds(1));

        Assert.Equal(AttemptOutcome.Succeeded, outcome);
        var placed = Artifacts().PathOf(request.OutputKey);
        Assert.Equal("{\"done\":1}", await File.ReadAllTextAsync(placed));
        Assert.False(File.Exists(output));
        Assert.Equal((await Artifacts().DescribeAsync(request.OutputKey, CancellationToken.None))!.Sha256,
            await tx.ScalarAsync<string>($"SELECT artifact_sha256 FROM jobs WHERE id = '{lease.JobId}' AND status = 'succeeded'"));
        await tx.AssertTimelinesValidAsync(lease.JobId);
    }

    [Fact]
    public async Task A_commit_whose_lease_was_taken_before_the_batch_locked_its_row_places_nothing_and_gives_the_file_back()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var (request, lease, output) = await AcquireWithOutputAsync(tx);
        await tx.ExecuteAsync($"UPDATE jobs SET last_heartbeat_at = now() - interval '2 minutes' WHERE id = '{lease.JobId}'");
        Assert.Single(await tx.Sweep.RecoverStaleAsync(new Runtime.Recovery.RecoveryOptions(), 1, dryRun: false, CancellationToken.None));

        var outcome = await Committer(tx).CommitAsync(request, new ActiveJob(lease, 0), Stage(), new StageOutput(output), 0, TimeSpan.FromSeconds(1));

        Assert.Equal(AttemptOutcome.LeaseLost, outcome);
        Assert.False(File.Exists(Artifacts().PathOf(request.OutputKey)), "a lost lease placed its artifact");
        Assert.True(File.Exists(output), "the output was not given back to scratch");
        Assert.Equal("queued", await tx.ScalarAsync<string>($"SELECT status FROM jobs WHERE id = '{lease.JobId}'"));
    }

    [Fact]
    public async Task A_commit_that_finds_an_artifact_already_placed_records_that_one()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var (request, lease, output) = await AcquireWithOutputAsync(tx);
        var staged = await StageThenLetAnotherAttemptCommitAsync(request, output);
        Assert.False(Artifacts().TryPlace(staged));
        Artifacts().Unstage(staged);
        Assert.True(File.Exists(output));

        var outcome = await Committer(tx).CommitAsync(request, new ActiveJob(lease, 0), Stage(), new StageOutput(output), 0, TimeSpan.FromSeconds(1));

        Assert.Equal(AttemptOutcome.Succeeded, outcome);
        Assert.Equal("{\"done\":2}", await File.ReadAllTextAsync(Artifacts().PathOf(request.OutputKey)));
        Assert.Equal((await Artifacts().DescribeAsync(request.OutputKey, CancellationToken.None))!.Sha256,
            await tx.ScalarAsync<string>($"SELECT artifact_sha256 FROM jobs WHERE id = '{lease.JobId}' AND status = 'succeeded'"));
    }

    [Fact]
    public async Task A_batch_whose_placement_finds_another_artifact_under_the_key_rolls_its_success_back()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var (request, lease, output) = await AcquireWithOutputAsync(tx);
        var staged = await StageThenLetAnotherAttemptCommitAsync(request, output);

        var success = Completion.Of(lease, staged.Record, [TimelineEntries.Completed(staged.Record, TimeSpan.FromSeconds(1))], null) with { Staged = staged };
        Assert.Equal(CompletionWrite.ArtifactExists, await Batcher(tx).PlaceAndSucceedAsync(success));

        // The fenced write that preceded the placement is undone with it: the job still runs under this lease.
        Assert.Equal("processing", await tx.ScalarAsync<string>($"SELECT status FROM jobs WHERE id = '{lease.JobId}' AND lease_token = {lease.Token}"));
        Assert.DoesNotContain(await tx.TimelineAsync(lease.JobId), e => e.Type == TimelineEventTypes.Completed);
        Assert.Equal("{\"done\":2}", await File.ReadAllTextAsync(Artifacts().PathOf(request.OutputKey)));
        Assert.True(File.Exists(staged.StagedPath), "the refused file left staging");
        Artifacts().Unstage(staged);
        Assert.True(File.Exists(output));
    }

    // Stages this attempt's output, then another attempt commits {"done":2} under the same key before it is placed.
    private async Task<StagedArtifact> StageThenLetAnotherAttemptCommitAsync(JobRequested request, string output)
    {
        var staged = (await Artifacts().StageAsync(output, request.OutputKey, CancellationToken.None))!;
        var other = Path.Combine(database.Env.ArtifactRoot, "scratch-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(other, "{\"done\":2}");
        Assert.NotNull(await Artifacts().CommitAsync(other, request.OutputKey, CancellationToken.None));
        return staged;
    }

    private async Task<(JobRequested Request, JobLease Lease, string Output)> AcquireWithOutputAsync(StatementTransaction tx)
    {
        var request = new JobRequested { JobId = Guid.NewGuid(), Stage = "synthetic", OutputKey = $"{Guid.NewGuid():N}.json", MaxAttempts = 3 };
        var output = Path.Combine(database.Env.ArtifactRoot, "scratch-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(output, "{\"done\":1}");
        var acquired = await tx.Jobs.AcquireAsync(request, new AcquireSettings("w1", 60, 3600, 3), CancellationToken.None);
        Assert.Equal(AcquireOutcomeKind.Acquired, acquired.Kind);
        return (request, acquired.Lease!, output);
    }

    private async Task<(JobRequested Request, JobLease Lease)> AcquireWithArtifactAsync(StatementTransaction tx)
    {
        var request = new JobRequested { JobId = Guid.NewGuid(), Stage = "synthetic", OutputKey = $"{Guid.NewGuid():N}.json", MaxAttempts = 3 };
        var path = Artifacts().PathOf(request.OutputKey);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, "{\"done\":true}");
        var acquired = await tx.Jobs.AcquireAsync(request, new AcquireSettings("w1", 60, 3600, 3), CancellationToken.None);
        Assert.Equal(AcquireOutcomeKind.Acquired, acquired.Kind);
        return (request, acquired.Lease!);
    }

    private FileSystemArtifactStore Artifacts() => new(Options.Create(new ArtifactOptions { Root = database.Env.ArtifactRoot }));

    private static SyntheticStage Stage() => new(Options.Create(new SyntheticOptions()), Options.Create(new WorkerOptions()));

    private ArtifactCommitter Committer(StatementTransaction tx) =>
        new(Artifacts(), tx.Jobs, Batcher(tx), TestOutcomeWriter.For(tx.Jobs, services), NullLogger<ArtifactCommitter>.Instance);

    private CompletionBatcher Batcher(StatementTransaction tx) => new(tx.Jobs, Artifacts(), new InTestTransaction(tx));

    public void Dispose() => services.Dispose();

    /// <summary>The batch's transaction is a savepoint in the test's own (which is rolled back at the end).</summary>
    private sealed class InTestTransaction(StatementTransaction tx) : IJobTransactions
    {
        public async Task<T> RunAsync<T>(Func<JobStore, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
        {
            await tx.ExecuteAsync("SAVEPOINT batch");
            try
            {
                var result = await work(tx.Jobs, cancellationToken);
                await tx.ExecuteAsync("RELEASE SAVEPOINT batch");
                return result;
            }
            catch
            {
                await tx.ExecuteAsync("ROLLBACK TO SAVEPOINT batch");
                throw;
            }
        }
    }
}
