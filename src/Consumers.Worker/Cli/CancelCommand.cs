using System.CommandLine;
using Consumers.Contracts;
using Consumers.Runtime.Control;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Pipelines;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Worker.Cli;

public static class CancelCommand
{
    public static Command Create()
    {
        var jobId = new Argument<Guid>("job-id") { Description = "The job to cancel, or a pipeline (cancelled as a whole)" };
        var reason = new Option<string?>("--reason") { Description = "Why; recorded in the job's cancelled event" };
        var by = new Option<string?>("--by") { Description = "Who asks (default: your OS user name)" };
        var wait = new Option<int>("--wait") { Description = "Seconds to wait for a running job to stop (0: do not wait)", DefaultValueFactory = _ => 10 };
        var command = new Command("cancel",
            "Cancel a job: a queued one at once, a running one is stopped by its worker (ffmpeg killed, scratch removed); it never runs again")
        {
            jobId, reason, by, wait,
        };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            var id = parse.GetValue(jobId);
            var who = parse.GetValue(by) is { Length: > 0 } named ? named : Environment.UserName;
            var outcome = await services.GetRequiredService<JobCancellation>().CancelAsync(id, parse.GetValue(reason), who, cancellationToken);
            switch (outcome.Kind)
            {
                case CancelOutcomeKind.Missing:
                    return await CancelPipelineAsync(services, id, parse.GetValue(reason), who, cancellationToken);
                case CancelOutcomeKind.Finished:
                    await Console.Error.WriteLineAsync($"error: job {id} already finished as {outcome.Status}; nothing to cancel");
                    return outcome.Status == JobStatuses.Cancelled ? ExitCodes.Ok : ExitCodes.Failed;
                case CancelOutcomeKind.Cancelled:
                    Console.WriteLine(outcome.Where == "waiting"
                        ? $"{id} cancelled (it was waiting for its segment jobs, which are cancelled with it)"
                        : $"{id} cancelled (it was waiting in the queue)");
                    return ExitCodes.Ok;
            }

            Console.WriteLine($"{id} cancel requested; the worker running it stops it within a heartbeat");
            var seconds = parse.GetValue(wait);
            if (seconds <= 0)
            {
                return ExitCodes.Ok;
            }

            var status = await WaitForEndAsync(services, id, TimeSpan.FromSeconds(seconds), cancellationToken);
            Console.WriteLine(status is null ? $"{id} still stopping after {seconds}s (see: consumers show {id})" : $"{id} {status}");
            return status is null or JobStatuses.Cancelled ? ExitCodes.Ok : ExitCodes.Failed;
        }));
        return command;
    }

    /// <summary>Not a job: a pipeline is cancelled as a whole (its waiting steps at once, its running ones by their workers).</summary>
    private static async Task<int> CancelPipelineAsync(IServiceProvider services, Guid id, string? reason, string by, CancellationToken cancellationToken)
    {
        switch (await services.GetRequiredService<PipelineCancellation>().CancelAsync(id, reason, by, cancellationToken))
        {
            case PipelineCancelResult.Missing:
                await Console.Error.WriteLineAsync($"error: no job or pipeline {id}");
                return ExitCodes.NotFound;
            case PipelineCancelResult.Finished:
                await Console.Error.WriteLineAsync($"error: pipeline {id} already finished; nothing to cancel");
                return ExitCodes.Failed;
            default:
                Console.WriteLine($"pipeline {id} cancel requested: waiting steps cancelled, running ones stop within a heartbeat (see: consumers show {id})");
                return ExitCodes.Ok;
        }
    }

    // A running job may still end otherwise: it finished (or failed) before the request reached its worker.
    private static async Task<string?> WaitForEndAsync(IServiceProvider services, Guid id, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            await using var scope = services.CreateAsyncScope();
            var job = await scope.ServiceProvider.GetRequiredService<JobQueries>().FindAsync(id, cancellationToken);
            if (job is not null && JobStatuses.IsTerminal(job.Status))
            {
                return job.Status;
            }

            await Task.Delay(200, cancellationToken);
        }

        return null;
    }
}
