using System.Text.RegularExpressions;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Control;

/// <summary>An action taken from the CLI (a process with no /metrics) shows on a worker's /metrics, counted from the audit table.</summary>
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
