using System.CommandLine;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Messaging;
using Consumers.Runtime.Persistence;
using Consumers.Worker.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Worker.Cli;

public static class RunCommand
{
    public static Command Create()
    {
        var concurrency = new Option<int?>("--concurrency") { Description = "Jobs this worker runs at once (Consumers:Flow:ConcurrentJobs)" };
        var workerId = new Option<string?>("--worker-id") { Description = "Name of this worker in leases and timelines (default: host-pid)" };
        var metricsPort = new Option<int?>("--metrics-port") { Description = "Port of /metrics and /health on Consumers:Telemetry:MetricsAddress, 127.0.0.1 by default (0: any free port)" };
        var command = new Command("run", "Run a worker until SIGTERM or Ctrl-C") { concurrency, workerId, metricsPort };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            var overrides = CliContext.ParseOverrides(parse.GetValue(SharedOptions.Set)!).ToList();
            if (parse.GetValue(concurrency) is { } slots)
            {
                overrides.Add(new("Consumers:Flow:ConcurrentJobs", slots.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }

            if (parse.GetValue(workerId) is { } id)
            {
                overrides.Add(new("Consumers:Worker:WorkerId", id));
            }

            if (parse.GetValue(metricsPort) is { } port)
            {
                overrides.Add(new("Consumers:Telemetry:MetricsPort", port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }

            // Only the worker process itself may end the process when a shutdown hangs; a host inside a test may not.
            await using var app = WorkerHost.Build(overrides, builder => builder.Services.AddHostedService<ShutdownWatchdog>());
            // Every setting checked before anything starts, so a bad one is one line with all the problems, not a host failure.
            app.Services.GetRequiredService<Microsoft.Extensions.Options.IStartupValidator>().Validate();
            // Before the host starts: a missing schema or a refused login ends here with one line and exit 4,
            // not as a failed host start. The host's own gate then passes at once.
            await app.Services.GetRequiredService<SchemaGate>().WaitForSchemaAsync(cancellationToken);
            // Likewise a job queue declared against Consumers:RabbitMq:Priority: one line, not a declare refused in a loop.
            await app.Services.GetRequiredService<QueuePriorities>()
                .CheckAsync(app.Services.GetRequiredService<JobLanes>().All.Select(l => l.Queue), cancellationToken);
            // The host handles SIGTERM itself (drain, then exit), independent of the command line's token.
            await app.RunAsync();
            return ExitCodes.Ok;
        }));
        return command;
    }
}
