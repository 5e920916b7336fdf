using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Consumers.Admin;
using Consumers.Runtime.Control;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Consumers.Worker.Cli;

/// <summary><c>consumers serve</c>: the admin API and dashboard alone, without running jobs.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var port = new Option<int?>("--port") { Description = "Port of the admin server (Consumers:Admin:Port, 9470; 0 picks a free one)" };
        var command = new Command("serve",
            "Serve the admin API (/api, OpenAPI at /openapi/v1.json) and the web dashboard (/) on Consumers:Admin:Address, 127.0.0.1 by default, until SIGTERM or Ctrl-C")
        {
            port,
        };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            var sets = parse.GetValue(SharedOptions.Set)!.ToList();
            if (parse.GetValue(port) is { } chosen)
            {
                sets.Add("Consumers:Admin:Port=" + chosen.ToString(CultureInfo.InvariantCulture));
            }

            var configuration = CliContext.BuildConfiguration(sets);
            await using var services = CliContext.BuildServices(configuration, s => s.AddConsumersAdminSettings(configuration));
            // Settings first (one line with every problem, exit 2), then the database (exit 4), then the port.
            _ = services.GetRequiredService<IOptions<AdminOptions>>().Value;
            await services.GetRequiredService<StagePauseStore>().ListAsync(cancellationToken);

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            await using var server = await AdminServer.StartAsync(services, stop.Token);
            Console.WriteLine($"admin API and dashboard on {server.Address} (OpenAPI: {new Uri(server.Address, AdminServer.OpenApiPath)})");
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
                // SIGTERM or Ctrl-C: a normal end.
            }

            await server.StopAsync(CancellationToken.None);
            return ExitCodes.Ok;

            void Stop(PosixSignalContext context)
            {
                context.Cancel = true;
                stop.Cancel();
            }
        }));
        return command;
    }
}
