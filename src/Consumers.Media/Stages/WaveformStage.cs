using System.Text.Json;
using Consumers.Contracts;
using Consumers.Media.Ffmpeg;
using Consumers.Runtime;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Stages;

namespace Consumers.Media.Stages;

/// <summary><c>waveform</c>: audio peaks (min and max per bucket, <c>points</c> buckets, default 1000) computed from decoded PCM.</summary>
public sealed class WaveformStage(FfmpegRunner ffmpeg) : IStage
{
    private const int SampleRate = 8000;

    public string Name => "waveform";

    public async Task<StageOutput> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var points = StageParameters.WholeNumber(context, "points", 1000, 1, 100_000);
        var info = await MediaInfo.ProbeAsync(ffmpeg, context.SourcePath, cancellationToken);
        if (info.Audio is null)
        {
            throw new JobFailureException(ErrorCodes.UnsupportedMedia, "the source has no audio stream");
        }

        var pcm = Path.Combine(context.ScratchDirectory, "audio.pcm");
        var progress = new Progress90(context.Progress);
        var result = await ffmpeg.EncodeAsync(
            [.. ffmpeg.InputArguments(context.SourcePath), "-map", "0:a:0", "-ac", "1", "-ar", "8000", "-f", "s16le", "-acodec", "pcm_s16le", "-y", pcm],
            context.Request.ClipDurationSeconds ?? info.DurationSeconds, progress, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw FfmpegFailures.Classify("ffmpeg", result);
        }

        var samples = await File.ReadAllBytesAsync(pcm, cancellationToken);
        File.Delete(pcm);
        var count = samples.Length / 2;
        var peaks = new List<int[]>(points);
        for (var p = 0; p < points; p++)
        {
            var from = (int)((long)count * p / points);
            var to = Math.Max(from + 1, (int)((long)count * (p + 1) / points));
            short min = 0, max = 0;
            for (var i = from; i < to && i < count; i++)
            {
                var sample = BitConverter.ToInt16(samples, i * 2);
                min = Math.Min(min, sample);
                max = Math.Max(max, sample);
            }

            peaks.Add([min, max]);
        }

        var output = Path.Combine(context.ScratchDirectory, "waveform.json");
        await using (var file = File.Create(output))
        {
            await JsonSerializer.SerializeAsync(file, new Waveform(SampleRate, count / (double)SampleRate, points, peaks), ContractJson.Options, cancellationToken);
        }

        return new StageOutput(output);
    }

    public async Task ValidateAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            await using var file = File.OpenRead(path);
            var waveform = await JsonSerializer.DeserializeAsync<Waveform>(file, ContractJson.Options, cancellationToken);
            if (waveform is null || waveform.Peaks.Count != waveform.Points)
            {
                throw new JobFailureException(ErrorCodes.ArtifactInvalid, "waveform has the wrong number of peaks");
            }
        }
        catch (JsonException ex)
        {
            throw new JobFailureException(ErrorCodes.ArtifactInvalid, "waveform is not valid JSON: " + ex.Message);
        }
    }

    public sealed record Waveform(int SampleRate, double DurationSeconds, int Points, IReadOnlyList<int[]> Peaks);

    // Decoding is most of the work; the peaks pass takes the rest.
    private sealed class Progress90(IProgress<double> inner) : IProgress<double>
    {
        public void Report(double value) => inner.Report(value * 0.9);
    }
}
