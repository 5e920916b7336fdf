using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Pipelines;

/// <summary><c>consumers submit --pipeline</c>, <c>show</c> of a pipeline (the tree) and <c>check-timeline</c> of it.</summary>
public sealed class PipelineCliTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_pipeline_file_is_submitted_shown_as_a_tree_with_statuses_and_checked()
    {
        await env.StartWorkerAsync();
        var id = Guid.NewGuid();
        var file = Path.Combine(env.LogRoot, "pipeline.json");
        await File.WriteAllTextAsync(file, $$$"""
            {"pipelineId":"{{{id}}}","steps":[
              {"name":"first","stage":"synthetic","outputKey":"cli/first.json","parameters":{"durationMs":"50"}},
              {"name":"left","stage":"synthetic","outputKey":"cli/left.json","dependsOn":["first"]},
              {"name":"right","stage":"synthetic","outputKey":"cli/right.json","dependsOn":["first"],"parameters":{"failCode":"CORRUPT_MEDIA"}},
              {"name":"last","stage":"synthetic","outputKey":"cli/last.json","dependsOn":["left","right"]}]}
            """);

        var submit = await Cli.RunAsync(env, "submit", "--pipeline", file);
        Assert.True(submit.ExitCode == 0, submit.Error);
        Assert.Equal(id.ToString(), submit.Output.Trim());
        Assert.Contains("already submitted", (await Cli.RunAsync(env, "submit", "--pipeline", file)).Output, StringComparison.Ordinal);
        await env.WaitForPipelineAsync(id);

        var show = await Cli.RunAsync(env, "show", id.ToString());
        Assert.True(show.ExitCode == 0, show.Error);
        var lines = show.Output.Split('\n');
        Assert.Contains(lines, l => l.StartsWith($"pipeline {id}  status=failed", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("first [succeeded] synthetic", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("├─ left [succeeded]", StringComparison.Ordinal));
        Assert.True(lines.Any(l => l.StartsWith("└─ right [failed]", StringComparison.Ordinal) && l.Contains("CORRUPT_MEDIA", StringComparison.Ordinal)), show.Output);
        Assert.True(lines.Any(l => l.StartsWith("│  └─ last [skipped]", StringComparison.Ordinal) && l.Contains("step right did not succeed", StringComparison.Ordinal)), show.Output);
        Assert.Contains(lines, l => l.Contains("pipeline_failed", StringComparison.Ordinal));

        var check = await Cli.RunAsync(env, "check-timeline", "--job", id.ToString());
        Assert.True(check.ExitCode == 0, check.Output + check.Error);
        Assert.Contains("checked 1 pipeline(s)", check.Output, StringComparison.Ordinal);
    }
}
