using System.Text.Json;
using Consumers.Contracts;
using Consumers.Media.Ffmpeg;
using Consumers.Runtime;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Stages;

namespace Consumers.Media.Stages;

/// <summary><c>probe</c>: container, duration and streams of the source as JSON.</summary>
public sealed class ProbeStage(FfmpegRunner ffmpeg) : IStage
{
    public string Name => "probe";

    public async Task<StageOutput> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var info = await MediaInfo.ProbeAsync(ffmpeg, context.SourcePath, cancellationToken);
        context.Progress.Report(100);
        var output = Path.Combine(context.ScratchDirectory, "probe.json");
        await using var file = File.Create(output);
        await JsonSerializer.SerializeAsync(file, info, ContractJson.Options, cancellationToken);
        return new StageOutput(output);
    }

    /// <summary>The probe's offer to later steps: <c>durationSeconds</c>, <c>container</c>, <c>streams</c> (their types) and <c>sizeBytes</c> of the source.</summary>
    public async Task<string?> DescribeResultAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(path);
        var info = await JsonSerializer.DeserializeAsync<MediaInfo>(file, ContractJson.Options, cancellationToken);
        return info is null ? null : JsonSerializer.Serialize(new ProbeResult(info.DurationSeconds, info.Container, [.. info.Streams.Select(s => s.Type)], info.SizeBytes), ContractJson.Options);
    }

    private sealed record ProbeResult(double? DurationSeconds, string Container, IReadOnlyList<string> Streams, long? SizeBytes);

    public async Task ValidateAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            await using var file = File.OpenRead(path);
            var info = await JsonSerializer.DeserializeAsync<MediaInfo>(file, ContractJson.Options, cancellationToken);
            if (info is null || info.Streams.Count == 0)
            {
                throw new JobFailureException(ErrorCodes.ArtifactInvalid, "probe result lists no streams");
            }
        }
        catch (JsonException ex)
        {
            throw new JobFailureException(ErrorCodes.ArtifactInvalid, "probe result is not valid JSON: " + ex.Message);
        }
    }
}
