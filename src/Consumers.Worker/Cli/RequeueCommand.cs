using System.CommandLine;
using Consumers.Runtime.Control;
using Consumers.Runtime.Recovery;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Worker.Cli;

public static class RequeueCommand
{
    public static Command Create()
    {
        var jobId = new Argument<Guid>("job-id") { Description = "The failed (or stuck queued) job to run again" };
        var reason = new Option<string>("--reason") { Description = "Why; recorded in the job's timeline", Required = true };
        var by = new Option<string?>("--by") { Description = "Who asks (default: your OS user name); recorded in the timeline and the operator audit" };
        var command = new Command("requeue", "Give a failed job a new life: fresh attempts, a requeued event with your reason, and a new JobRequested")
        {
            jobId, reason, by,
        };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            var store = services.GetRequiredService<RecoveryStore>();
            var id = parse.GetValue(jobId);
            var who = parse.GetValue(by) is { Length: > 0 } named ? named : Environment.UserName;
            var refused = await store.RequeueByOperatorAsync(id, parse.GetValue(reason)!, who, cancellationToken);
            await services.GetRequiredService<OperatorAudit>().RecordAsync("requeue", id.ToString(), who, parse.GetValue(reason),
                refused is null ? "requeued" : "refused_" + refused, cancellationToken);
            switch (refused)
            {
                case null:
                    Console.WriteLine($"{id} requeued");
                    return ExitCodes.Ok;
                case "missing":
                    await Console.Error.WriteLineAsync($"error: no job {id}");
                    return ExitCodes.NotFound;
                case var status:
                    await Console.Error.WriteLineAsync($"error: job {id} is {status}; only failed or queued jobs can be requeued" +
                        (status == "processing" ? " (a running job is recovered by the sweep if its worker dies)" : ""));
                    return ExitCodes.Failed;
            }
        }));
        return command;
    }
}
