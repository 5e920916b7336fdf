using System.Globalization;
using Consumers.Contracts;
using Consumers.Media.Ffmpeg;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Stages;

namespace Consumers.Media.Stages;

/// <summary><c>thumbnail</c>: one JPEG frame at <c>atSeconds</c> (default a tenth of the way in), optionally scaled to <c>width</c>.</summary>
public sealed class ThumbnailStage(FfmpegRunner ffmpeg) : IStage
{
    public string Name => "thumbnail";

    public async Task<StageOutput> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var info = await MediaInfo.ProbeAsync(ffmpeg, context.SourcePath, cancellationToken);
        if (info.Video is null)
        {
            throw new JobFailureException(ErrorCodes.UnsupportedMedia, "the source has no video stream to take a thumbnail from");
        }

        var duration = context.Request.ClipDurationSeconds ?? info.DurationSeconds ?? 0;
        var at = StageParameters.Number(context, "atSeconds", 0, 1e7) ?? duration * 0.1;
        if (duration > 0 && at >= duration)
        {
            throw new JobFailureException(ErrorCodes.InvalidRequest, $"parameters.atSeconds {at} is past the end of the clip ({duration:F1}s)") { Field = "parameters.atSeconds" };
        }

        var width = StageParameters.WholeNumber(context, "width", 0, 16, 7680);
        var output = Path.Combine(context.ScratchDirectory, "thumbnail.jpg");
        List<string> args = ["-ss", at.ToString("F3", CultureInfo.InvariantCulture), .. ffmpeg.InputArguments(context.SourcePath), "-frames:v", "1"];
        if (width > 0)
        {
            args.AddRange(["-vf", $"scale={width}:-2"]);
        }

        args.AddRange(["-q:v", "3", "-f", "image2", "-y", output]);
        var result = await ffmpeg.EncodeAsync(args, null, null, cancellationToken);
        if (result.ExitCode != 0 || !File.Exists(output))
        {
            throw FfmpegFailures.Classify("ffmpeg", result);
        }

        context.Progress.Report(100);
        return new StageOutput(output);
    }

    public async Task ValidateAsync(string path, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken);
        if (JpegSize.Read(bytes) is not { Width: > 0, Height: > 0 })
        {
            throw new JobFailureException(ErrorCodes.ArtifactInvalid, "thumbnail is not a readable JPEG");
        }
    }
}
