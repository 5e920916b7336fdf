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
}
