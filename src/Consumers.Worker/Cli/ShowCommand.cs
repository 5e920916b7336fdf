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
        var jobId = new Argument<string>("id") { Description = "The job or pipeline to show: its id, or a unique start or end of it (such as the short id watch prints)" };
        var command = new Command("show", "Show one job and its timeline, or a pipeline: its steps as a tree and its timeline") { jobId, SharedOptions.Json };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            await using var scope = services.CreateAsyncScope();
            var queries = scope.ServiceProvider.GetRequiredService<JobQueries>();
            var id = await ResolveAsync(queries, scope.ServiceProvider.GetRequiredService<PipelineQueries>(), parse.GetValue(jobId)!, cancellationToken);
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
                Console.WriteLine(JsonSerializer.Serialize(new { Job = JobDetailView.Of(job), Timeline = timeline.Select(JobEventView.From) }, ContractJson.Options));
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

    /// <summary>
    /// A full id as it is; a fragment of at least four hex digits to the one job or pipeline whose id starts or ends
    /// with it. A fragment that fits several is refused, naming them.
    /// </summary>
    private static async Task<Guid?> ResolveAsync(JobQueries jobs, PipelineQueries pipelines, string text, CancellationToken cancellationToken)
    {
        if (Guid.TryParse(text, out var id))
        {
            return id;
        }

        var digits = text.Replace("-", "", StringComparison.Ordinal);
        if (digits.Length < MinimumFragment || !digits.All(char.IsAsciiHexDigit))
        {
            throw new UsageException($"'{text}' is not a job or pipeline id: give the id, or at least {MinimumFragment} of its first or last hex digits");
        }

        var matches = (await jobs.MatchIdAsync(text, 6, cancellationToken)).Select(j => (Kind: "job", Id: j))
            .Concat((await pipelines.MatchIdAsync(text, 6, cancellationToken)).Select(p => (Kind: "pipeline", Id: p))).ToList();
        return matches.Count switch
        {
            0 => null,
            1 => matches[0].Id,
            _ => throw new UsageException(
                $"'{text}' matches more than one job or pipeline ({string.Join(", ", matches.Take(5).Select(m => $"{m.Kind} {m.Id}"))}{(matches.Count > 5 ? ", ..." : "")}); give more digits"),
        };
    }
}
