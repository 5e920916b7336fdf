using System.Diagnostics;

namespace Consumers.IntegrationTests.Hygiene;

/// <summary>The shell scripts operators and CI run pass shellcheck (installed by scripts/install-deps.sh).</summary>
public sealed class ScriptLintTests
{
    [Fact]
    public async Task Every_script_passes_shellcheck()
    {
        var root = StackSettings.RepositoryRoot;
        var scripts = Directory.GetFiles(Path.Combine(root, "scripts"), "*.sh").Append(Path.Combine(root, ".ci", "run")).ToList();
        var start = new ProcessStartInfo("shellcheck") { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-x");
        foreach (var script in scripts)
        {
            start.ArgumentList.Add(Path.GetRelativePath(root, script));
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token);

        Assert.True(scripts.Count >= 5, "found too few scripts to check: " + string.Join(", ", scripts));
        Assert.True(process.ExitCode == 0, $"shellcheck found problems:\n{await output}{await error}");
    }
}
