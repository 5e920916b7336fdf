using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime;
using Consumers.Runtime.Jobs;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Worker.Cli;

public static class ListCommand
{
    public static Command Create()
    {
        var status = new Option<string?>("--status") { Description = "Only jobs in this status (queued, processing, succeeded, failed, cancelled)" };
        status.AcceptOnlyFromAmong([.. JobStatuses.All]);
        var stage = new Option<string?>("--stage") { Description = "Only jobs of this stage" };
        var limit = new Option<int>("--limit") { Description = "At most this many jobs, newest first", DefaultValueFactory = _ => 50 };
        var command = new Command("list", "List jobs, newest first, with a count per status") { status, stage, limit, SharedOptions.Json };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            var max = parse.GetValue(limit);
            if (max < 1)
            {
                throw new UsageException($"--limit must be at least 1, got {max}");
            }

            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            await using var scope = services.CreateAsyncScope();
            var queries = scope.ServiceProvider.GetRequiredService<JobQueries>();
            var jobs = await queries.ListAsync(parse.GetValue(status), parse.GetValue(stage), max, cancellationToken);
            // The counts cover what the filters select, not the whole table.
            var counts = await queries.CountByStatusAsync(parse.GetValue(status), parse.GetValue(stage), cancellationToken);
            if (parse.GetValue(SharedOptions.Json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { Counts = counts, Jobs = jobs.Select(JobDetailView.Of) }, ContractJson.Options));
                return ExitCodes.Ok;
            }

            var table = new Table("JOB", "STATUS", "STAGE", "ATTEMPTS", "UPDATED (UTC)", "OUTPUT / ERROR");
            foreach (var job in jobs)
            {
                table.Add(job.Id.ToString(), job.Status, job.Stage,
                    $"{job.AttemptCount - job.UnchargedAttempts}/{job.MaxAttempts}",
                    job.UpdatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                    job.LastErrorCode is null ? job.ArtifactKey ?? job.OutputKey : $"{job.LastErrorCode}: {job.LastErrorMessage}");
            }

            Console.Write(table);
            Console.WriteLine(string.Join("  ", JobStatuses.All.Select(s => $"{s}={counts.GetValueOrDefault(s)}")));
            var pauses = await services.GetRequiredService<Runtime.Control.StagePauseStore>().ListAsync(cancellationToken);
            if (pauses.Count > 0)
            {
                Console.WriteLine("paused stages: " + string.Join(", ", pauses.Select(p => $"{p.Stage} (by {p.PausedBy})")));
            }
            return ExitCodes.Ok;
        }));
        return command;
    }
}
