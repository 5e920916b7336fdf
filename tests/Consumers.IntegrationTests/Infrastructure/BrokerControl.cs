using System.Diagnostics;

namespace Consumers.IntegrationTests.Infrastructure;

/// <summary>Stops and starts the local RabbitMQ (the node stays up; its application stops) through the stack script.</summary>
public static class BrokerControl
{
    public static Task StopAsync() => RunAsync("broker-stop");

    public static Task StartAsync() => RunAsync("broker-start");

    private static async Task RunAsync(string verb)
    {
        var script = Path.Combine(StackSettings.RepositoryRoot, "scripts", "stack.sh");
        using var process = Process.Start(new ProcessStartInfo("bash", [script, verb])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"stack.sh {verb} exited {process.ExitCode}: {await output}{await error}");
        }
    }
}
