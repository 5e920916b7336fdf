using System.CommandLine;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Pipelines;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Consumers.Worker.Cli;

public static class SubmitCommand
{
    public static Command Create()
    {
        var stage = new Option<string>("--stage") { Description = "Stage to run (probe, thumbnail, transcode, waveform, manifest, synthetic)" };
        var source = new Option<string>("--source") { Description = "Source file under a media root", DefaultValueFactory = _ => "" };
        var outputKey = new Option<string>("--output-key") { Description = "Artifact key relative to the artifact root" };
        var pipeline = new Option<FileInfo?>("--pipeline") { Description = "Submit a pipeline instead: a PipelineRequested as a JSON file (see docs/pipelines.md)" };
        var parameters = new Option<string[]>("--param") { Description = "Stage parameter key=value (repeatable)", DefaultValueFactory = _ => [] };
        var jobId = new Option<Guid?>("--job-id") { Description = "Job id (default: a new one). Submitting an id twice runs it once" };
        var clip = new Option<double?>("--clip-duration") { Description = "Clip duration in seconds, if known" };
        var maxAttempts = new Option<int?>("--max-attempts") { Description = "Attempt limit for this job" };
        var priority = new Option<int>("--priority")
        {
            Description = $"{JobPriority.Lowest} (lowest) to {JobPriority.Highest} (highest): starts ahead of lower-priority jobs waiting in its queue",
            DefaultValueFactory = _ => JobPriority.Default,
        };
        var command = new Command("submit", "Submit a job: its row and its JobRequested are written in one transaction")
        {
            stage, source, outputKey, parameters, jobId, clip, maxAttempts, priority, pipeline,
        };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            if (parse.GetValue(pipeline) is { } file)
            {
                return await SubmitPipelineAsync(file, parse.GetValue(SharedOptions.Set)!, cancellationToken);
            }

            if (string.IsNullOrEmpty(parse.GetValue(stage)) || string.IsNullOrEmpty(parse.GetValue(outputKey)))
            {
                throw new UsageException("--stage and --output-key are required (or --pipeline file.json)");
            }

            var request = new JobRequested
            {
                JobId = parse.GetValue(jobId) ?? Guid.CreateVersion7(),
                Stage = parse.GetValue(stage)!,
                Source = parse.GetValue(source) ?? "",
                OutputKey = parse.GetValue(outputKey)!,
                ClipDurationSeconds = parse.GetValue(clip),
                MaxAttempts = parse.GetValue(maxAttempts),
                Priority = parse.GetValue(priority) is var level and >= JobPriority.Lowest and <= JobPriority.Highest
                    ? level
                    : throw new UsageException($"--priority must be between {JobPriority.Lowest} and {JobPriority.Highest}"),
                Parameters = CliContext.ParsePairs(parse.GetValue(parameters)!, "--param", "height=240")
                    .ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal),
            };
            if (JobRequestValidator.FindUnstorable(request) is { } unstorable)
            {
                throw new UsageException(unstorable.Message);
            }

            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            var store = services.GetRequiredService<JobStore>();
            var defaults = services.GetRequiredService<IOptions<WorkerOptions>>().Value;
            var created = await store.SubmitAsync(request, request.MaxAttempts ?? defaults.DefaultMaxAttempts, cancellationToken);
            Console.WriteLine(created ? request.JobId.ToString() : $"{request.JobId} (already submitted; nothing changed)");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static async Task<int> SubmitPipelineAsync(FileInfo file, string[] settings, CancellationToken cancellationToken)
    {
        PipelineRequested request;
        try
        {
            var text = await File.ReadAllTextAsync(file.FullName, cancellationToken);
            using (var document = JsonDocument.Parse(text))
            {
                // The field of the wrong type named, as a worker names it for a message.
                if (PipelineRequestShape.Inspect(document.RootElement) is { } misfit)
                {
                    throw new UsageException($"{file.Name} is not a valid pipeline: {misfit.Problem}");
                }
            }

            request = JsonSerializer.Deserialize<PipelineRequested>(text, ContractJson.Options)
                      ?? throw new UsageException($"{file.Name} holds no pipeline");
        }
        catch (Exception ex) when (ex is JsonException or IOException)
        {
            throw new UsageException($"{file.Name} is not a readable pipeline: {ex.Message}");
        }

        if (request.PipelineId == Guid.Empty)
        {
            // The id is the idempotency key: without one in the file, each submit is a new pipeline.
            request = request with { PipelineId = Guid.CreateVersion7() };
        }

        await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(settings));
        var (result, problem) = await services.GetRequiredService<PipelineSubmission>().SubmitAsync(request, cancellationToken);
        switch (result)
        {
            case PipelineSubmitResult.Started:
                Console.WriteLine(request.PipelineId);
                return ExitCodes.Ok;
            case PipelineSubmitResult.Duplicate:
                Console.WriteLine($"{request.PipelineId} (already submitted; nothing changed)");
                return ExitCodes.Ok;
            default:
                Console.WriteLine(request.PipelineId);
                await Console.Error.WriteLineAsync($"error: pipeline refused ({ErrorCodes.InvalidRequest}): {problem}");
                return ExitCodes.Failed;
        }
    }
}
