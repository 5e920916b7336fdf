using System.Globalization;
using Consumers.Media.Ffmpeg;

namespace Consumers.Media.Stages;

/// <summary>
/// How a segmented transcode cuts its source: segments of <see cref="FramesPerSegment"/> frames, the last one taking
/// what is left. Boundaries are frame numbers, so they do not drift with rounding. A checkpoint is reused only by an attempt that arrives at the same plan (same source, same
/// parameters, same cut), which <see cref="Identity"/> names.
/// </summary>
public sealed record SegmentPlan(VideoTiming Timing, int FramesPerSegment, int Count, bool HasAudio, string Identity)
{
    public static SegmentPlan Create(VideoTiming timing, double segmentSeconds, bool hasAudio, string encoding, FileInfo source)
    {
        var perSegment = (int)Math.Max(1, Math.Round(segmentSeconds * timing.FramesPerSecond));
        var count = (int)Math.Max(1, (timing.Frames + perSegment - 1) / perSegment);
        var identity = string.Create(CultureInfo.InvariantCulture,
            $"v1;{encoding};rate={timing.RateNumerator}/{timing.RateDenominator};frames={timing.Frames};per={perSegment};audio={hasAudio};" +
            $"source={source.Length}@{source.LastWriteTimeUtc.Ticks}");
        return new SegmentPlan(timing, perSegment, count, hasAudio, identity);
    }

    /// <summary>
    /// Input arguments that start an encode at segment <paramref name="index"/>'s first frame: the seek lands half a frame
    /// before it, so ffmpeg's exact seek keeps that frame and drops the one before, whatever the rounding.
    /// </summary>
    public IReadOnlyList<string> SeekArguments(int index) =>
        index == 0 ? [] : ["-ss", Timing.SecondsAt(((long)index * FramesPerSegment) - 0.5).ToString("0.000000", CultureInfo.InvariantCulture)];

    public static string SegmentName(int index) => string.Create(CultureInfo.InvariantCulture, $"seg-{index:D5}.mp4");
}
