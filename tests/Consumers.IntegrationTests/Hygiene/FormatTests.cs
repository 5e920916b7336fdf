using System.Diagnostics;

namespace Consumers.IntegrationTests.Hygiene;

/// <summary>The code follows .editorconfig (whitespace, import order, style): <c>dotnet format --verify-no-changes</c>.</summary>
public sealed class FormatTests
{
    [Fact]
    public async Task The_solution_needs_no_formatting()
    {
        var root = StackSettings.RepositoryRoot;
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "format", "Consumers.sln", "--verify-no-changes", "--no-restore" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(8)).Token);

        Assert.True(process.ExitCode == 0, $"dotnet format would change files (run `dotnet format Consumers.sln`):\n{await output}{await error}");
    }
}
