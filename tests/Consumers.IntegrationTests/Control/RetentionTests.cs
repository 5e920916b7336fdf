using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Control;

/// <summary>
/// Retention deletes exactly the finished jobs past their outcome's retention (with their events and checkpoints), the
/// expired pipelines (with their steps and timeline) and old operator actions, and nothing unpublished or still in use.
/// </summary>
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

    [Fact]
    public async Task Prune_also_deletes_expired_pipelines_with_their_steps_old_operator_actions_and_checkpoints_and_keeps_the_rest()
    {
        // An expired pipeline: its steps, its timeline and its (expired) step jobs go together.
        var oldSteps = new[] { await FinishedAsync(JobStatuses.Succeeded, days: 9), await FinishedAsync(JobStatuses.Succeeded, days: 9) };
        var expiredPipeline = await PipelineAsync("succeeded", days: 8, oldSteps);
        // A failed pipeline of 10 days is kept (30 days for failed), and with it its succeeded step job although that one is past 7 days.
        var keptStep = await FinishedAsync(JobStatuses.Succeeded, days: 10);
        var keptPipeline = await PipelineAsync("failed", days: 10, keptStep);
        // A running pipeline is never pruned.
        var runningPipeline = await PipelineAsync("running", days: 60);
        // A checkpoint left by an expired job goes with it (the foreign key cascades).
        var checkpointed = await FinishedAsync(JobStatuses.Failed, days: 31);
        await ExecuteAsync($"INSERT INTO job_checkpoints (job_id, attempt, lease_token, state, parts, saves, updated_at) VALUES ('{checkpointed}', 1, 1, '{{}}', '[]', 1, now())");
        // Operator actions: two past the 90 days, one recent.
        await ExecuteAsync("INSERT INTO operator_actions (at, action, target, by) VALUES (now() - interval '91 days', 'pause', 'synthetic', 'old'), " +
                           "(now() - interval '120 days', 'resume', 'synthetic', 'old'), (now() - interval '1 day', 'pause', 'synthetic', 'recent')");

        var (exit, output, error) = await Cli.RunAsync(env, "prune", "--dry-run");
        Assert.True(exit == 0, output + error);
        Assert.Contains("would delete 3 jobs: succeeded=2, failed=1, cancelled=0; 1 pipelines: succeeded=1, failed=0, cancelled=0; 2 operator actions",
            output, StringComparison.Ordinal);
        Assert.Equal(3, await env.CountAsync("SELECT count(*) FROM pipelines"));
        Assert.Equal(3, await env.CountAsync("SELECT count(*) FROM operator_actions"));

        (exit, output, error) = await Cli.RunAsync(env, "prune");
        Assert.True(exit == 0, output + error);
        Assert.Contains("deleted 3 jobs: succeeded=2, failed=1, cancelled=0; 1 pipelines: succeeded=1, failed=0, cancelled=0; 2 operator actions",
            output, StringComparison.Ordinal);
        Assert.Equal(0, await env.CountAsync($"SELECT count(*) FROM pipelines WHERE id = '{expiredPipeline}'"));
        Assert.Equal(0, await env.CountAsync($"SELECT count(*) FROM pipeline_steps WHERE pipeline_id = '{expiredPipeline}'"));
        Assert.Equal(0, await env.CountAsync($"SELECT count(*) FROM pipeline_events WHERE pipeline_id = '{expiredPipeline}'"));
        foreach (var id in oldSteps)
        {
            Assert.Null(await env.JobAsync(id));
        }

        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM job_checkpoints"));
        Assert.Null(await env.JobAsync(checkpointed));

        Assert.Equal(2, await env.CountAsync($"SELECT count(*) FROM pipelines WHERE id IN ('{keptPipeline}', '{runningPipeline}')"));
        Assert.Equal(1, await env.CountAsync($"SELECT count(*) FROM pipeline_steps WHERE pipeline_id = '{keptPipeline}'"));
        Assert.NotNull(await env.JobAsync(keptStep));
        Assert.Equal(1, await env.CountAsync("SELECT count(*) FROM operator_actions"));
        Assert.Equal(1, await env.CountAsync("SELECT count(*) FROM operator_actions WHERE by = 'recent'"));

        // Nothing is left for a second run.
        (exit, output, error) = await Cli.RunAsync(env, "prune", "--dry-run");
        Assert.True(exit == 0, output + error);
        Assert.Contains("would delete 0 jobs: succeeded=0, failed=0, cancelled=0; 0 pipelines: succeeded=0, failed=0, cancelled=0; 0 operator actions",
            output, StringComparison.Ordinal);
    }

    /// <summary>Test setup only: a pipeline row as if it had finished (or started, when running) that many days ago, with the given step jobs.</summary>
    private async Task<Guid> PipelineAsync(string status, int days, params Guid[] stepJobs)
    {
        var id = Guid.NewGuid();
        var finished = status == "running" ? "NULL" : $"now() - make_interval(days => {days})";
        await ExecuteAsync(
            "INSERT INTO pipelines (id, status, source, request, step_count, last_event_seq, created_at, updated_at, finished_at) " +
            $"VALUES ('{id}', '{status}', 'clip.mp4', '{{}}', {stepJobs.Length}, 1, now() - make_interval(days => {days}), now(), {finished}); " +
            $"INSERT INTO pipeline_events (pipeline_id, seq, type, occurred_at, data) VALUES ('{id}', 1, 'pipeline_started', now(), '{{}}')");
        for (var i = 0; i < stepJobs.Length; i++)
        {
            await ExecuteAsync(
                "INSERT INTO pipeline_steps (pipeline_id, name, ord, stage, job_id, depends_on, ancestors, request, max_attempts, state, created_at, updated_at) " +
                $"VALUES ('{id}', 's{i}', {i}, 'synthetic', '{stepJobs[i]}', '{{}}', '{{}}', '{{}}', 3, 'succeeded', now(), now()); " +
                $"UPDATE jobs SET pipeline_id = '{id}' WHERE id = '{stepJobs[i]}'");
        }

        return id;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = env.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
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
