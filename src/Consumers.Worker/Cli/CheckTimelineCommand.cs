using System.CommandLine;
using System.Text.Json;
using Consumers.Runtime;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Pipelines;
using Consumers.Runtime.Timeline;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Worker.Cli;

public static class CheckTimelineCommand
{
    public static Command Create()
    {
        var jobId = new Option<Guid?>("--job") { Description = "Check only this job, or this pipeline" };
        var since = new Option<DateTimeOffset?>("--since") { Description = "Jobs created at or after this time (default: 24 hours ago)" };
        var until = new Option<DateTimeOffset?>("--until") { Description = "Jobs created before this time (default: now)" };
        var command = new Command("check-timeline", "Check job timelines against the ordering rules; exit 1 when any rule is broken")
        {
            jobId, since, until, SharedOptions.Json,
        };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            await using var scope = services.CreateAsyncScope();
            var queries = scope.ServiceProvider.GetRequiredService<JobQueries>();
            var violations = new List<TimelineViolation>();
            var pipelines = scope.ServiceProvider.GetRequiredService<PipelineQueries>();
            var checkedJobs = 0;
            var checkedPipelines = 0;
            if (parse.GetValue(jobId) is { } id)
            {
                if (await pipelines.FindAsync(id, cancellationToken) is not null)
                {
                    violations.AddRange(await CheckPipelineAsync(pipelines, id, cancellationToken));
                    checkedPipelines = 1;
                }
                else if (await queries.FindAsync(id, cancellationToken) is null)
                {
                    await Console.Error.WriteLineAsync($"error: no job or pipeline {id}");
                    return ExitCodes.NotFound;
                }
                else
                {
                    violations.AddRange(TimelineChecker.Check(id, await queries.TimelineAsync(id, cancellationToken)));
                    checkedJobs = 1;
                }
            }
            else
            {
                var to = parse.GetValue(until) ?? DateTimeOffset.UtcNow;
                var from = parse.GetValue(since) ?? to.AddDays(-1);
                await foreach (var (job, events) in queries.TimelinesAsync(from, to, 500, cancellationToken))
                {
                    violations.AddRange(TimelineChecker.Check(job, events));
                    checkedJobs++;
                }

                foreach (var pipeline in await pipelines.CreatedBetweenAsync(from, to, cancellationToken))
                {
                    violations.AddRange(await CheckPipelineAsync(pipelines, pipeline, cancellationToken));
                    checkedPipelines++;
                }
            }

            if (parse.GetValue(SharedOptions.Json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { CheckedJobs = checkedJobs, CheckedPipelines = checkedPipelines, Violations = violations }, ContractJson.Options));
            }
            else
            {
                foreach (var violation in violations)
                {
                    Console.WriteLine(violation);
                }

                if (checkedPipelines > 0)
                {
                    Console.WriteLine($"checked {checkedPipelines} pipeline(s) by the pipeline rules");
                }

                Console.WriteLine($"checked {checkedJobs} job(s): {violations.Count} violation(s) in {violations.Select(v => v.JobId).Distinct().Count()} job(s)");
            }

            return violations.Count == 0 ? ExitCodes.Ok : ExitCodes.Failed;
        }));
        return command;
    }

    private static async Task<IReadOnlyList<TimelineViolation>> CheckPipelineAsync(PipelineQueries pipelines, Guid id, CancellationToken cancellationToken) =>
        PipelineTimelineChecker.Check(id, await pipelines.TimelineAsync(id, cancellationToken), await pipelines.StepsAsync(id, cancellationToken));
}
