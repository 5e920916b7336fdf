using System.Text.RegularExpressions;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Control;

/// <summary>
/// An action taken from the CLI (a process with no /metrics) shows on a worker's /metrics, read from the audit table:
/// the actions since the worker started, never going down when retention deletes rows.
/// </summary>
public sealed partial class OperatorActionMetricTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_pause_and_a_resume_from_the_cli_are_counted_on_a_workers_metrics_by_action()
    {
        var worker = await env.StartWorkerProcessAsync("worker-a");
        Assert.Equal(0, Total(await worker.ScrapeAsync(), "pause"));

        var (exit, output, error) = await Cli.RunAsync(env, "pause", "synthetic", "--by", "dana");
        Assert.True(exit == 0, output + error);
        (exit, output, error) = await Cli.RunAsync(env, "resume", "synthetic", "--by", "dana");
        Assert.True(exit == 0, output + error);

        await Eventually.WaitAsync(async () =>
            {
                var metrics = await worker.ScrapeAsync();
                return Total(metrics, "pause") == 1 && Total(metrics, "resume") == 1;
            },
            TimeSpan.FromSeconds(30), () => "operator_actions_total did not count the pause and the resume");
        Assert.Equal(0, Total(await worker.ScrapeAsync(), "cancel"));

        // Retention deleting the rows does not take them back: the counter only goes up.
        await using (var prune = env.DataSource.CreateCommand("DELETE FROM operator_actions"))
        {
            await prune.ExecuteNonQueryAsync();
        }

        (exit, output, error) = await Cli.RunAsync(env, "pause", "synthetic", "--by", "dana");
        Assert.True(exit == 0, output + error);
        await Eventually.WaitAsync(async () => Total(await worker.ScrapeAsync(), "pause") == 2,
            TimeSpan.FromSeconds(30), () => "operator_actions_total did not count the second pause");
        Assert.Equal(1, Total(await worker.ScrapeAsync(), "resume"));
    }

    [Fact]
    public async Task A_worker_counts_the_actions_since_it_started_not_the_whole_table()
    {
        // An old audit row (a year's worth would be the same): not read, not counted.
        await using (var old = env.DataSource.CreateCommand(
            "INSERT INTO operator_actions (at, action, target, by) VALUES (now() - interval '10 days', 'cancel', 'x', 'old')"))
        {
            await old.ExecuteNonQueryAsync();
        }

        var worker = await env.StartWorkerProcessAsync("worker-a");
        var (exit, output, error) = await Cli.RunAsync(env, "cancel", Guid.NewGuid().ToString(), "--by", "dana");
        Assert.NotEqual(0, exit);
        await Eventually.WaitAsync(async () => Total(await worker.ScrapeAsync(), "cancel") == 1,
            TimeSpan.FromSeconds(30), () => $"operator_actions_total did not count the cancel ({output}{error})");
        Assert.Equal(0, Total(await worker.ScrapeAsync(), "pause"));
    }

    private static long Total(string metrics, string action)
    {
        var match = Series().Matches(metrics).FirstOrDefault(m => m.Groups["action"].Value == action);
        Assert.True(match is not null, $"no operator_actions_total series for {action}");
        return long.Parse(match.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [GeneratedRegex("""^operator_actions_total\{[^}]*action="(?<action>[^"]+)"[^}]*\} (?<value>\d+)""", RegexOptions.Multiline)]
    private static partial Regex Series();
}
