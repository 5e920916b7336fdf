using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Leases;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.IntegrationTests.Jobs;

/// <summary>
/// A failure that comes after a cancel was recorded, before the worker read it: the job ends cancelled, not failed,
/// and only when the request is on the row and the attempt still holds its lease.
/// </summary>
public sealed class OutcomeWriterTests(SharedDatabase database) : IClassFixture<SharedDatabase>, IDisposable
{
    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    [Fact]
    public async Task A_failure_after_a_recorded_cancel_ends_the_job_cancelled()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var lease = await AcquireAsync(tx);
        var job = new ActiveJob(lease, 0);
        var failure = new JobFailureException(ErrorCodes.CorruptMedia, "the encoder failed");
        var outcomes = TestOutcomeWriter.For(tx.Jobs, services);

        // No request on the row: the failure is written as usual.
        Assert.Null(await outcomes.CancelIfRequestedAsync(job, "synthetic", failure));
        Assert.Equal("processing", await tx.ScalarAsync<string>($"SELECT status FROM jobs WHERE id = '{lease.JobId}'"));

        Assert.Equal(CancelOutcomeKind.Requested, (await tx.Jobs.RequestCancelAsync(lease.JobId, "wrong clip", "alice", CancellationToken.None)).Kind);
        // Another attempt's token cannot end it.
        Assert.Null(await TestOutcomeWriter.For(tx.Jobs, services).CancelIfRequestedAsync(new ActiveJob(lease with { Token = lease.Token + 1 }, 0), "synthetic", failure));

        Assert.Equal(AttemptOutcome.Cancelled, await outcomes.CancelIfRequestedAsync(job, "synthetic", failure));
        Assert.Equal("cancelled", await tx.ScalarAsync<string>($"SELECT status FROM jobs WHERE id = '{lease.JobId}'"));
        var cancelled = (await tx.TimelineAsync(lease.JobId)).Last();
        Assert.Equal(TimelineEventTypes.Cancelled, cancelled.Type);
        Assert.Contains("\"running\"", cancelled.Data, StringComparison.Ordinal);
        await tx.AssertTimelinesValidAsync(lease.JobId);
    }

    private static async Task<JobLease> AcquireAsync(StatementTransaction tx)
    {
        var request = new JobRequested { JobId = Guid.NewGuid(), Stage = "synthetic", OutputKey = $"{Guid.NewGuid():N}.json", MaxAttempts = 3 };
        var acquired = await tx.Jobs.AcquireAsync(request, new AcquireSettings("w1", 60, 3600, 3), CancellationToken.None);
        Assert.Equal(AcquireOutcomeKind.Acquired, acquired.Kind);
        return acquired.Lease!;
    }

    public void Dispose() => services.Dispose();
}
