using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Control;

/// <summary>Retention deletes exactly the finished jobs past their outcome's retention, with their events, and nothing unpublished.</summary>
public sealed class RetentionTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task Prune_deletes_exactly_the_expired_rows_and_the_clustered_job_does_the_same()
    {
        var expired = new[]
        {
            await FinishedAsync(JobStatuses.Succeeded, days: 8),
            await FinishedAsync(JobStatuses.Failed, days: 31),
            await FinishedAsync(JobStatuses.Cancelled, days: 31),
        };
        var kept = new[]
        {
            await FinishedAsync(JobStatuses.Succeeded, days: 6),
            await FinishedAsync(JobStatuses.Failed, days: 29),
            await FinishedAsync(JobStatuses.Cancelled, days: 10),
            await FinishedAsync(JobStatuses.Queued, days: 60),
        };
        // Expired, but its outbox rows are not published yet.
        var unpublished = await FinishedAsync(JobStatuses.Succeeded, days: 9, published: false);

        var (exit, output, error) = await Cli.RunAsync(env, "prune", "--dry-run");
        Assert.True(exit == 0, output + error);
        Assert.Contains("would delete 3 jobs: succeeded=1, failed=1, cancelled=1", output, StringComparison.Ordinal);
        Assert.Equal(8, await env.CountAsync("SELECT count(*) FROM jobs"));

        (exit, output, error) = await Cli.RunAsync(env, "prune");
        Assert.True(exit == 0, output + error);
        Assert.Contains("deleted 3 jobs", output, StringComparison.Ordinal);
        foreach (var id in expired)
        {
            Assert.Null(await env.JobAsync(id));
            Assert.Empty(await env.TimelineAsync(id));
        }

        foreach (var id in kept.Append(unpublished))
        {
            Assert.NotNull(await env.JobAsync(id));
            Assert.NotEmpty(await env.TimelineAsync(id));
        }

        // The clustered job: once the worker's relay has published the outbox rows, that job goes too, and one more expired one.
        var another = await FinishedAsync(JobStatuses.Failed, days: 40);
        await env.StartWorkerAsync(overrides: new Dictionary<string, string?> { ["Consumers:Retention:Interval"] = "00:00:01" });
        await Eventually.WaitAsync(async () => await env.JobAsync(another) is null && await env.JobAsync(unpublished) is null,
            TimeSpan.FromSeconds(60), () => "the retention job did not delete the expired jobs");
        foreach (var id in kept)
        {
            Assert.NotNull(await env.JobAsync(id));
        }
    }

    private async Task<Guid> FinishedAsync(string status, int days, bool published = true)
    {
        var job = TestEnvironment.SyntheticJob($"out/{Guid.NewGuid():N}.json");
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        // Test setup only: age the row as if it had finished that long ago.
        await using var command = env.DataSource.CreateCommand(
            "UPDATE jobs SET status = @status, finished_at = CASE WHEN @status = 'queued' THEN NULL ELSE now() - make_interval(days => @days) END, " +
            "created_at = now() - make_interval(days => @days) WHERE id = @id");
        command.Parameters.AddWithValue("status", status);
        command.Parameters.AddWithValue("days", days);
        command.Parameters.AddWithValue("id", job.JobId);
        await command.ExecuteNonQueryAsync();
        if (published)
        {
            await using var outbox = env.DataSource.CreateCommand("DELETE FROM outbox_messages WHERE job_id = @id");
            outbox.Parameters.AddWithValue("id", job.JobId);
            await outbox.ExecuteNonQueryAsync();
        }

        return job.JobId;
    }
}
