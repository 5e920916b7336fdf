using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Consumers.Runtime;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Pipelines;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Worker.Cli;

public static class ShowCommand
{
    public static Command Create()
    {
        var jobId = new Argument<string>("job-id") { Description = "The job to show: its id, or a unique start or end of it (such as the short id watch prints)" };
        var command = new Command("show", "Show one job and its timeline, or a pipeline (by its full id): its steps as a tree and its timeline") { jobId, SharedOptions.Json };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            await using var scope = services.CreateAsyncScope();
            var queries = scope.ServiceProvider.GetRequiredService<JobQueries>();
            var id = await ResolveAsync(queries, parse.GetValue(jobId)!, cancellationToken);
            var job = id is { } found ? await queries.FindAsync(found, cancellationToken) : null;
            if (job is null && id is { } pipelineId
                && await scope.ServiceProvider.GetRequiredService<PipelineQueries>().FindAsync(pipelineId, cancellationToken) is { } pipeline)
            {
                return await PipelineView.ShowAsync(scope.ServiceProvider.GetRequiredService<PipelineQueries>(), pipeline, parse.GetValue(SharedOptions.Json), cancellationToken);
            }

            if (job is null)
            {
                await Console.Error.WriteLineAsync($"error: no job or pipeline {parse.GetValue(jobId)}");
                return ExitCodes.NotFound;
            }

            var timeline = await queries.TimelineAsync(job.Id, cancellationToken);
            if (parse.GetValue(SharedOptions.Json))
            {
                var events = timeline.Select(e => new { e.Seq, e.Type, e.Attempt, e.OccurredAt, Data = JsonDocument.Parse(e.Data).RootElement });
                Console.WriteLine(JsonSerializer.Serialize(new { Job = JobView.From(job), Timeline = events }, ContractJson.Options));
                return ExitCodes.Ok;
            }

            Console.WriteLine($"job {job.Id}  stage={job.Stage}  status={job.Status}  priority={job.Priority}  attempts={job.AttemptCount - job.UnchargedAttempts}/{job.MaxAttempts}");
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

    private const int MinimumFragment = 4;

    /// <summary>A full id as it is; a fragment of at least four hex digits to the one job whose id starts or ends with it.</summary>
    private static async Task<Guid?> ResolveAsync(JobQueries queries, string text, CancellationToken cancellationToken)
    {
        if (Guid.TryParse(text, out var id))
        {
            return id;
        }

        var digits = text.Replace("-", "", StringComparison.Ordinal);
        if (digits.Length < MinimumFragment || !digits.All(char.IsAsciiHexDigit))
        {
            throw new UsageException($"'{text}' is not a job id: give the id, or at least {MinimumFragment} of its first or last hex digits");
        }

        var matches = await queries.MatchIdAsync(text, 6, cancellationToken);
        return matches.Count switch
        {
            0 => null,
            1 => matches[0],
            _ => throw new UsageException(
                $"'{text}' matches more than one job ({string.Join(", ", matches.Take(5))}{(matches.Count > 5 ? ", ..." : "")}); give more digits"),
        };
    }
}
