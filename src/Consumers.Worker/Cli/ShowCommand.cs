using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Consumers.Runtime;
using Consumers.Runtime.Jobs;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Worker.Cli;

public static class ShowCommand
{
    public static Command Create()
    {
        var jobId = new Argument<Guid>("job-id") { Description = "The job to show" };
        var command = new Command("show", "Show one job and its timeline") { jobId, SharedOptions.Json };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            await using var scope = services.CreateAsyncScope();
            var queries = scope.ServiceProvider.GetRequiredService<JobQueries>();
            var id = parse.GetValue(jobId);
            var job = await queries.FindAsync(id, cancellationToken);
            if (job is null)
            {
                await Console.Error.WriteLineAsync($"error: no job {id}");
                return ExitCodes.NotFound;
            }

            var timeline = await queries.TimelineAsync(id, cancellationToken);
            if (parse.GetValue(SharedOptions.Json))
            {
                var events = timeline.Select(e => new { e.Seq, e.Type, e.Attempt, e.OccurredAt, Data = JsonDocument.Parse(e.Data).RootElement });
                Console.WriteLine(JsonSerializer.Serialize(new { Job = JobView.From(job), Timeline = events }, ContractJson.Options));
                return ExitCodes.Ok;
            }

            Console.WriteLine($"job {job.Id}  stage={job.Stage}  status={job.Status}  attempts={job.AttemptCount - job.UnchargedAttempts}/{job.MaxAttempts}");
            Console.WriteLine($"  source:   {job.Source}");
            Console.WriteLine($"  output:   {job.OutputKey}" + (job.ArtifactSize is { } size ? $"  ({size} bytes, sha256 {job.ArtifactSha256})" : ""));
            if (job.LastErrorCode is not null)
            {
                Console.WriteLine($"  error:    {job.LastErrorCode}: {job.LastErrorMessage}");
            }

            if (job.Status == "processing")
            {
                Console.WriteLine($"  lease:    {job.LeaseOwner} token {job.LeaseToken}, heartbeat {job.LastHeartbeatAt:HH:mm:ss.fff}, progress {job.ProgressPercent ?? 0}%");
            }

            if (job.NotBefore is { } notBefore && job.Status == "queued")
            {
                Console.WriteLine($"  retry at: {notBefore:yyyy-MM-dd HH:mm:ss.fff}");
            }

            Console.WriteLine();
            var table = new Table("SEQ", "TIME (UTC)", "TYPE", "ATTEMPT", "DETAILS");
            foreach (var e in timeline)
            {
                var data = JsonSerializer.Deserialize<Dictionary<string, string>>(e.Data, ContractJson.Options) ?? [];
                table.Add(e.Seq.ToString(CultureInfo.InvariantCulture), e.OccurredAt.UtcDateTime.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture),
                    e.Type, e.Attempt.ToString(CultureInfo.InvariantCulture), string.Join("  ", data.Select(d => $"{d.Key}={d.Value}")));
            }

            Console.Write(table);
            return ExitCodes.Ok;
        }));
        return command;
    }
}
