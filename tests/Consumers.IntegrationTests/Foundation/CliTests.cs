using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Foundation;

/// <summary>The operator's verbs: what they print and what their exit codes mean.</summary>
public sealed class CliTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_worker_with_settings_that_cannot_work_stops_at_once_with_one_line_naming_every_key_and_exit_code_2()
    {
        var (exitCode, output, error) = await Cli.RunAsync(env, "run",
            "--set", "Consumers:Leases:HeartbeatInterval=00:00:06",
            "--set", "Consumers:Retry:Default:Jitter=3");

        Assert.Equal(2, exitCode);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: invalid settings: ", line, StringComparison.Ordinal);
        Assert.Contains("Consumers:Leases:LeaseTimeout must be at least twice HeartbeatInterval", line, StringComparison.Ordinal);
        Assert.Contains("Consumers:Retry:Default:Jitter must be from 0 to 1", line, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_show_list_and_check_timeline_work_together()
    {
        await using var worker = await env.StartWorkerProcessAsync("cli-worker");
        env.CreateMediaFile("cli.bin", 3000);

        var submit = await Cli.RunAsync(env, "submit", "--stage", "manifest", "--source", "cli.bin", "--output-key", "cli.json");
        Assert.Equal(0, submit.ExitCode);
        var jobId = Guid.Parse(submit.Output.Trim());
        await env.WaitForTerminalAsync(jobId);

        var show = await Cli.RunAsync(env, "show", jobId.ToString(), "--json");
        Assert.Equal(0, show.ExitCode);
        using var shown = JsonDocument.Parse(show.Output);
        Assert.Equal(JobStatuses.Succeeded, shown.RootElement.GetProperty("job").GetProperty("status").GetString());
        Assert.Equal(3, shown.RootElement.GetProperty("timeline").GetArrayLength());

        var list = await Cli.RunAsync(env, "list", "--status", "succeeded");
        Assert.Equal(0, list.ExitCode);
        Assert.Contains(jobId.ToString(), list.Output, StringComparison.Ordinal);
        Assert.Contains("succeeded=1", list.Output, StringComparison.Ordinal);

        var check = await Cli.RunAsync(env, "check-timeline");
        Assert.Equal(0, check.ExitCode);
        Assert.Contains("checked 1 job(s): 0 violation(s)", check.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_timeline_exits_one_and_names_the_rule_when_a_timeline_is_broken()
    {
        var request = TestEnvironment.ManifestJob("x.bin", "x.json");
        await env.Store.SubmitAsync(request, 3, CancellationToken.None);
        // Vandalise the timeline the way only a bug or a hand-edit could: a progress event with no attempt.
        await using (var command = env.DataSource.CreateCommand(
            "INSERT INTO job_events (job_id, seq, type, attempt, occurred_at, data) VALUES (@id, 2, 'progress', 0, now(), '{\"percent\":\"5\"}')"))
        {
            command.Parameters.AddWithValue("id", request.JobId);
            await command.ExecuteNonQueryAsync();
        }

        var check = await Cli.RunAsync(env, "check-timeline", "--job", request.JobId.ToString());

        Assert.Equal(1, check.ExitCode);
        Assert.Contains("progress-inside-attempt", check.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exit_codes_say_what_went_wrong_in_one_line()
    {
        var missing = await Cli.RunAsync(env, "show", Guid.NewGuid().ToString());
        Assert.Equal(3, missing.ExitCode);
        Assert.StartsWith("error: no job", missing.Error, StringComparison.Ordinal);

        var usage = await Cli.RunAsync(env, "show", "not-a-guid");
        Assert.Equal(2, usage.ExitCode);

        var unreachable = await Cli.RunAsync(env, "list", "--set", "Consumers:Database:ConnectionString=Host=127.0.0.1;Port=1;Database=x;Username=x;Password=x");
        Assert.Equal(4, unreachable.ExitCode);
        Assert.Single(unreachable.Error.Trim().Split('\n'));
        Assert.Contains("PostgreSQL is not reachable", unreachable.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_password_or_a_missing_database_is_one_line_and_exit_4()
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(env.ConnectionString);
        var wrongPassword = new Npgsql.NpgsqlConnectionStringBuilder(env.ConnectionString) { Password = "not-the-password" };
        var missingDatabase = new Npgsql.NpgsqlConnectionStringBuilder(env.ConnectionString) { Database = builder.Database + "_missing" };
        foreach (var (connection, code) in new[] { (wrongPassword, "28P01"), (missingDatabase, "3D000") })
        {
            var result = await Cli.RunAsync(env, "list", "--set", "Consumers:Database:ConnectionString=" + connection.ConnectionString);

            Assert.Equal(4, result.ExitCode);
            Assert.Single(result.Error.Trim().Split('\n'));
            Assert.StartsWith($"error: PostgreSQL refused the connection ({code}", result.Error, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("list", "--limit", "-5")]
    [InlineData("list", "--limit", "0")]
    [InlineData("watch", "--interval", "0")]
    [InlineData("watch", "--interval", "-1")]
    [InlineData("watch", "--timeout", "0")]
    [InlineData("stuck", "--queued-minutes", "0")]
    [InlineData("show", "abc")]
    public async Task Nonsense_numbers_and_ids_are_refused_as_usage_errors(params string[] args)
    {
        var result = await Cli.RunAsync(env, args);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: ", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task List_counts_only_the_jobs_its_filters_select()
    {
        await env.Store.SubmitAsync(TestEnvironment.ManifestJob("a.bin", "a.json"), 3, CancellationToken.None);
        await env.Store.SubmitAsync(TestEnvironment.ManifestJob("b.bin", "b.json"), 3, CancellationToken.None);
        await env.Store.SubmitAsync(TestEnvironment.SyntheticJob("c.json"), 3, CancellationToken.None);

        var byStage = await Cli.RunAsync(env, "list", "--stage", "synthetic", "--json");
        Assert.Equal(0, byStage.ExitCode);
        using (var listed = JsonDocument.Parse(byStage.Output))
        {
            Assert.Equal(1, listed.RootElement.GetProperty("counts").GetProperty("queued").GetInt32());
            Assert.Equal(1, listed.RootElement.GetProperty("jobs").GetArrayLength());
        }

        var byStatus = await Cli.RunAsync(env, "list", "--status", "failed");
        Assert.Equal(0, byStatus.ExitCode);
        Assert.Contains("queued=0", byStatus.Output, StringComparison.Ordinal);

        var limited = await Cli.RunAsync(env, "list", "--limit", "1", "--json");
        using (var listed = JsonDocument.Parse(limited.Output))
        {
            // The limit cuts the rows, not the counts.
            Assert.Equal(1, listed.RootElement.GetProperty("jobs").GetArrayLength());
            Assert.Equal(3, listed.RootElement.GetProperty("counts").GetProperty("queued").GetInt32());
        }
    }

    [Fact]
    public async Task Show_takes_the_short_id_watch_prints_and_refuses_an_ambiguous_one()
    {
        var job = TestEnvironment.ManifestJob("s.bin", "s.json");
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        var twinA = TestEnvironment.ManifestJob("t.bin", "t1.json", Guid.Parse("0badc0de-0000-4000-8000-00000000a001"));
        var twinB = TestEnvironment.ManifestJob("t.bin", "t2.json", Guid.Parse("0badc0de-0000-4000-8000-00000000b002"));
        await env.Store.SubmitAsync(twinA, 3, CancellationToken.None);
        await env.Store.SubmitAsync(twinB, 3, CancellationToken.None);

        var shortId = Worker.Cli.WatchCommand.ShortId(job.JobId);
        var shown = await Cli.RunAsync(env, "show", shortId, "--json");
        Assert.True(shown.ExitCode == 0, shown.Error);
        using (var json = JsonDocument.Parse(shown.Output))
        {
            Assert.Equal(job.JobId, json.RootElement.GetProperty("job").GetProperty("id").GetGuid());
            Assert.Equal(0, json.RootElement.GetProperty("job").GetProperty("leaseExpiryCount").GetInt32());
        }

        var byPrefix = await Cli.RunAsync(env, "show", "0badc0de-0000-4000-8000-00000000b");
        Assert.Equal(0, byPrefix.ExitCode);
        Assert.Contains(twinB.JobId.ToString(), byPrefix.Output, StringComparison.Ordinal);

        var ambiguous = await Cli.RunAsync(env, "show", "0badc0de");
        Assert.Equal(2, ambiguous.ExitCode);
        Assert.Contains("matches more than one job", ambiguous.Error, StringComparison.Ordinal);
        Assert.Contains(twinA.JobId.ToString(), ambiguous.Error, StringComparison.Ordinal);

        var unknown = await Cli.RunAsync(env, "show", "fedcba98");
        Assert.Equal(3, unknown.ExitCode);
    }

    [Fact]
    public async Task Stuck_exits_one_when_it_lists_a_stuck_job_and_zero_when_none()
    {
        var clean = await Cli.RunAsync(env, "stuck");
        Assert.Equal(0, clean.ExitCode);

        // A job whose worker vanished: processing, heartbeat well past its 10 s lease; no worker here sweeps it.
        var abandoned = TestEnvironment.SyntheticJob("abandoned.json");
        await env.Store.AcquireAsync(abandoned, new Runtime.Jobs.AcquireSettings("vanished", 10, 3600, 3), CancellationToken.None);
        await using (var age = env.DataSource.CreateCommand($"UPDATE jobs SET last_heartbeat_at = now() - interval '1 minute' WHERE id = '{abandoned.JobId}'"))
        {
            await age.ExecuteNonQueryAsync();
        }

        var stuck = await Cli.RunAsync(env, "stuck");
        Assert.Equal(1, stuck.ExitCode);
        Assert.Contains(abandoned.JobId.ToString(), stuck.Output, StringComparison.Ordinal);
        Assert.Contains("1 job(s) look stuck", stuck.Output, StringComparison.Ordinal);

        var json = await Cli.RunAsync(env, "stuck", "--json");
        Assert.Equal(1, json.ExitCode);
    }

    [Fact]
    public async Task Requeue_names_who_asked_in_the_timeline_and_the_audit_and_audits_a_refusal_too()
    {
        var failed = TestEnvironment.SyntheticJob("requeue-me.json");
        await env.Store.RejectAsync(failed, 3, ErrorCodes.InvalidRequest, "bad source", "source", CancellationToken.None);

        var requeued = await Cli.RunAsync(env, "requeue", failed.JobId.ToString(), "--reason", "source fixed", "--by", "carol");
        Assert.True(requeued.ExitCode == 0, requeued.Output + requeued.Error);
        var requeueEvent = (await env.TimelineAsync(failed.JobId))[^1];
        Assert.Equal(TimelineEventTypes.Requeued, requeueEvent.Type);
        var data = JsonDocument.Parse(requeueEvent.Data).RootElement;
        Assert.Equal("carol", data.GetProperty("by").GetString());
        Assert.Equal("source fixed", data.GetProperty("note").GetString());
        Assert.Equal("operator", data.GetProperty("reason").GetString());

        var refused = await Cli.RunAsync(env, "requeue", Guid.NewGuid().ToString(), "--reason", "x", "--by", "carol");
        Assert.Equal(3, refused.ExitCode);
        Assert.Equal(1, await env.CountAsync($"SELECT count(*) FROM operator_actions WHERE action = 'requeue' AND target = '{failed.JobId}' AND by = 'carol' AND reason = 'source fixed' AND outcome = 'requeued'"));
        Assert.Equal(1, await env.CountAsync("SELECT count(*) FROM operator_actions WHERE action = 'requeue' AND outcome = 'refused_missing'"));
        await env.AssertAllTimelinesValidAsync();
    }
}
