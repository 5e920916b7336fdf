using System.Runtime.InteropServices;
using Consumers.Runtime.Flow;
using Consumers.Worker.Cli;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Consumers.Worker.Hosting;

/// <summary>
/// Bounds shutdown whatever the dependencies do. The drain has its own timeouts, but libraries stopping after it
/// may not (Quartz's clustered store keeps retrying its lock against a database that is down, and the host's
/// ShutdownTimeout only cancels a token they may ignore). Once stopping has taken <see cref="FlowOptions.ForcedExitAfter"/>,
/// this ends the process with _exit(2): no handler can block it (Environment.Exit would wait for the host).
/// Exit code 4 when PostgreSQL was unavailable at that moment, else 1.
/// </summary>
public sealed partial class ShutdownWatchdog(
    IHostApplicationLifetime lifetime, DatabaseMonitor database, IOptions<FlowOptions> options) : IHostedService
{
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenRegistration stopping;
    private CancellationTokenRegistration done;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        stopping = lifetime.ApplicationStopping.Register(Arm);
        // A shutdown that finished disarms it: the process ends on its own from there.
        done = lifetime.ApplicationStopped.Register(() => stopped.TrySetResult());
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Arm()
    {
        var after = options.Value.ForcedExitAfter;
        // A thread of its own: the thread pool may be what is stuck.
        var thread = new Thread(() =>
        {
            if (stopped.Task.Wait(after))
            {
                return;
            }

            var code = database.IsAvailable ? ExitCodes.Failed : ExitCodes.Unavailable;
            Console.Error.WriteLine($"shutdown did not finish within {after.TotalSeconds:F0}s of SIGTERM " +
                                    $"(PostgreSQL {(database.IsAvailable ? "available" : "unavailable")}): exiting now with {code}");
            Console.Out.Flush();
            Exit(code);
        })
        {
            IsBackground = true,
            Name = "shutdown-watchdog",
        };
        thread.Start();
    }

    [LibraryImport("libc", EntryPoint = "_exit")]
    private static partial void Exit(int status);
}
