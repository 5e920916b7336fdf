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

        // A unique start or end of the id is enough, as for a job.
        var byEnd = await Cli.RunAsync(env, "show", id.ToString("N")[^8..]);
        Assert.True(byEnd.ExitCode == 0, byEnd.Error);
        Assert.Contains(byEnd.Output.Split('\n'), l => l.StartsWith($"pipeline {id}  status=failed", StringComparison.Ordinal));
        var byStart = await Cli.RunAsync(env, "show", id.ToString()[..13]);
        Assert.True(byStart.ExitCode == 0, byStart.Error);
        Assert.Contains($"pipeline {id}", byStart.Output, StringComparison.Ordinal);

        var check = await Cli.RunAsync(env, "check-timeline", "--job", id.ToString());
        Assert.True(check.ExitCode == 0, check.Output + check.Error);
        Assert.Contains("checked 1 pipeline(s)", check.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_short_id_that_fits_a_job_and_a_pipeline_is_refused_naming_both()
    {
        // Two ids with the same last eight digits: one a job's, the other a pipeline's.
        var job = TestEnvironment.SyntheticJob("cli/ambiguous.json") with { JobId = Guid.Parse("0194a3b2-0000-7000-8000-0000abcd1234") };
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        var pipelineId = Guid.Parse("0194a3b2-1111-7000-8000-0000abcd1234");
        var file = Path.Combine(env.LogRoot, "ambiguous.json");
        await File.WriteAllTextAsync(file, $$$"""
            {"pipelineId":"{{{pipelineId}}}","steps":[{"name":"only","stage":"synthetic","outputKey":"cli/only.json"}]}
            """);
        var submit = await Cli.RunAsync(env, "submit", "--pipeline", file);
        Assert.True(submit.ExitCode == 0, submit.Error);

        var show = await Cli.RunAsync(env, "show", "abcd1234");

        Assert.NotEqual(0, show.ExitCode);
        Assert.Contains("matches more than one job or pipeline", show.Error, StringComparison.Ordinal);
        Assert.Contains($"job {job.JobId}", show.Error, StringComparison.Ordinal);
        Assert.Contains($"pipeline {pipelineId}", show.Error, StringComparison.Ordinal);
        var unique = await Cli.RunAsync(env, "show", "0194a3b21111");
        Assert.True(unique.ExitCode == 0, unique.Error);
        Assert.Contains($"pipeline {pipelineId}", unique.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pipeline_file_with_a_field_of_the_wrong_type_is_refused_naming_the_field()
    {
        var file = Path.Combine(env.LogRoot, "mistyped.json");
        await File.WriteAllTextAsync(file, """
            {"pipelineId":"0194a3b2-2222-7000-8000-000000000001","steps":[{"name":"a","stage":"synthetic","outputKey":"x/a","dependsOn":7}]}
            """);

        var submit = await Cli.RunAsync(env, "submit", "--pipeline", file);

        Assert.NotEqual(0, submit.ExitCode);
        Assert.Contains("steps.a.dependsOn must be an array of step names (strings), not JSON number", submit.Error, StringComparison.Ordinal);
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM pipelines"));
    }
}
