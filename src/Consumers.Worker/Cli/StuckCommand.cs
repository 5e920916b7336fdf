using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Consumers.Runtime;
using Consumers.Runtime.Jobs;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Worker.Cli;

public static class StuckCommand
{
    public static Command Create()
    {
        var olderThan = new Option<double>("--queued-minutes") { Description = "Report queued jobs waiting longer than this", DefaultValueFactory = _ => 10 };
        var command = new Command("stuck", "Jobs that look stuck: processing without a fresh heartbeat or past their deadline, and queued jobs waiting long") { olderThan, SharedOptions.Json };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            if (!(parse.GetValue(olderThan) > 0))
            {
                throw new UsageException($"--queued-minutes must be more than 0, got {parse.GetValue(olderThan)}");
            }

            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            await using var scope = services.CreateAsyncScope();
            var queries = scope.ServiceProvider.GetRequiredService<JobQueries>();
            var stuck = await StuckJobs.FindAsync(queries, TimeSpan.FromMinutes(parse.GetValue(olderThan)), DateTimeOffset.UtcNow, cancellationToken);
            if (parse.GetValue(SharedOptions.Json))
            {
                Console.WriteLine(JsonSerializer.Serialize(stuck.Select(s => new { Job = JobDetailView.Of(s.Job), Reason = s.Why }), ContractJson.Options));
                return Outcome(stuck.Count);
            }

            var table = new Table("JOB", "STATUS", "STAGE", "OWNER", "LAST HEARTBEAT (UTC)", "WHY");
            foreach (var (job, why) in stuck)
            {
                table.Add(job.Id.ToString(), job.Status, job.Stage, job.LeaseOwner,
                    job.LastHeartbeatAt?.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture), why);
            }

            Console.Write(table);
            Console.WriteLine($"{stuck.Count} job(s) look stuck; the recovery sweep requeues stale processing jobs by itself (see docs/runbook.md)");
            return Outcome(stuck.Count);
        }));
        return command;
    }

    // Scripts and cron checks read the status: 1 (found a problem) when anything looks stuck.
    private static int Outcome(int stuck) => stuck == 0 ? ExitCodes.Ok : ExitCodes.Failed;
}
