using System.Globalization;
using Consumers.Contracts;
using Consumers.Media.Ffmpeg;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Stages;

namespace Consumers.Media.Stages;

/// <summary>
/// <c>transcode</c>: an H.264/AAC MP4 proxy at <c>height</c> (240) and <c>videoBitrate</c> (500k), with progress.
/// With <see cref="MediaOptions.SegmentSeconds"/> set (the default) a source of at least
/// <see cref="MediaOptions.SegmentFromSeconds"/> is encoded in checkpointed segments (<see cref="SegmentedTranscode"/>);
/// otherwise, or when the source states no usable frame rate, in one pass. With <c>parallel</c> (or
/// <see cref="MediaOptions.TranscodeParallel"/>) of 2 or more, the segments are encoded by segment jobs on any worker
/// (<see cref="TranscodeFanOut"/>) and joined by the job's next attempt.
/// </summary>
public sealed class TranscodeStage(FfmpegRunner ffmpeg) : IStage
{
    public string Name => "transcode";

    public async Task<StageOutput> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var height = StageParameters.WholeNumber(context, "height", 240, 16, 4320);
        var bitrate = StageParameters.Bitrate(context, "videoBitrate", "500k", 16_000, 100_000_000);
        var info = await MediaInfo.ProbeAsync(ffmpeg, context.SourcePath, cancellationToken);
        if (info.Video is null)
        {
            throw new JobFailureException(ErrorCodes.UnsupportedMedia, "the source has no video stream to transcode");
        }

        var parallel = TranscodeFanOut.Parallel(context, ffmpeg.Options);
        var segmentSeconds = TranscodeFanOut.SegmentSeconds(context, ffmpeg.Options);
        // A segment job always segments: its parent did. The timing comes from the same probe: a second ffprobe cost
        // about as much CPU as the first (its start-up).
        if (segmentSeconds > 0 && (context.Checkpoint.SegmentOf is not null || !(info.DurationSeconds < ffmpeg.Options.SegmentFromSeconds))
            && info.VideoTiming is { } timing)
        {
            var encoding = new ProxyEncoding(height, bitrate);
            var plan = SegmentPlan.Create(timing, segmentSeconds, info.Audio is not null, encoding.Identity, new FileInfo(context.SourcePath));
            if (context.Checkpoint.SegmentOf is not null)
            {
                return await new SegmentedTranscode(ffmpeg, context, encoding, plan, TranscodeFanOut.RangeOf(context, plan)).RunAsync(cancellationToken);
            }

            if (await TranscodeFanOut.ShouldFanOutAsync(context, plan, parallel, cancellationToken))
            {
                throw TranscodeFanOut.Request(plan, parallel, segmentSeconds);
            }

            // After a fan-out: joins what the segment jobs recorded, encoding anything they did not.
            return await new SegmentedTranscode(ffmpeg, context, encoding, plan).RunAsync(cancellationToken);
        }

        var output = Path.Combine(context.ScratchDirectory, "proxy.mp4");
        var args = EncodeArguments(ffmpeg, context.SourcePath, output, height, bitrate);
        var result = await ffmpeg.EncodeAsync(args, context.Request.ClipDurationSeconds ?? info.DurationSeconds, context.Progress, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw FfmpegFailures.Classify("ffmpeg", result);
        }

        // The command maps exactly one video stream through libx264 into a fast-start MP4, and ffmpeg said it wrote it:
        // reading the box structure back is the validation (no second ffprobe). Anything unexpected is left to ValidateAsync.
        return new StageOutput(output) { Validated = Mp4Layout.IsWholeFastStartH264(output) };
    }

    /// <summary>
    /// The stage's ffmpeg arguments (before <see cref="FfmpegRunner.EncodeAsync"/> adds its own), public so that the
    /// media benchmark runs plain ffmpeg with exactly what a job runs.
    /// </summary>
    public static List<string> EncodeArguments(FfmpegRunner ffmpeg, string source, string output, int height = 240, string bitrate = "500k") =>
    [
        .. ffmpeg.InputArguments(source),
        "-map", "0:v:0", "-map", "0:a:0?",
        .. new ProxyEncoding(height, bitrate).VideoArguments, .. ProxyEncoding.AudioArguments,
        "-movflags", "+faststart", "-y", output,
    ];

    public async Task ValidateAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            var info = await MediaInfo.ProbeAsync(ffmpeg, path, cancellationToken);
            if (info.Video is not { Codec: "h264" })
            {
                throw new JobFailureException(ErrorCodes.ArtifactInvalid, "proxy has no H.264 video stream");
            }
        }
        catch (JobFailureException ex) when (ex.Code != ErrorCodes.ArtifactInvalid)
        {
            throw new JobFailureException(ErrorCodes.ArtifactInvalid, "proxy cannot be read back: " + ex.Message, ex);
        }
    }
}

/// <summary>The proxy's encoder settings, shared by the one-pass and the segmented transcode.</summary>
internal sealed record ProxyEncoding(int Height, string Bitrate)
{
    public IReadOnlyList<string> VideoArguments =>
    [
        "-vf", $"scale=-2:{Height.ToString(CultureInfo.InvariantCulture)}",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", Bitrate, "-pix_fmt", "yuv420p",
    ];

    public static IReadOnlyList<string> AudioArguments { get; } = ["-c:a", "aac", "-b:a", "96k"];

    public string Identity => $"h264:{Height.ToString(CultureInfo.InvariantCulture)}:{Bitrate}:veryfast;aac:96k";
}
