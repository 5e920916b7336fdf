using System.Globalization;
using System.Text.Json;

namespace Consumers.Media.Ffmpeg;

/// <summary>The first video stream's frame rate (as a fraction) and frame count: what segment boundaries are cut on.</summary>
public sealed record VideoTiming(long RateNumerator, long RateDenominator, long Frames)
{
    public double FramesPerSecond => (double)RateNumerator / RateDenominator;

    /// <summary>Seconds from the start to frame <paramref name="frame"/>.</summary>
    public double SecondsAt(double frame) => frame * RateDenominator / RateNumerator;

    /// <summary>Reads the timing, or null when the source does not state a usable constant frame rate.</summary>
    public static async Task<VideoTiming?> ProbeAsync(FfmpegRunner runner, string path, CancellationToken cancellationToken)
    {
        var result = await runner.ProbeAsync(
            ["-v", "error", "-protocol_whitelist", "file", "-format_whitelist", runner.Options.AllowedFormats, "-select_streams", "v:0",
             "-show_entries", "stream=avg_frame_rate,r_frame_rate,nb_frames,duration:format=duration", "-of", "json", "file:" + path], cancellationToken);
        if (result.ExitCode != 0)
        {
            throw FfmpegFailures.Classify("ffprobe", result);
        }

        try
        {
            using var json = JsonDocument.Parse(result.Output);
            return json.RootElement.TryGetProperty("streams", out var streams) && streams.GetArrayLength() > 0
                ? From(streams[0], json.RootElement.TryGetProperty("format", out var format) ? format : null)
                : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// The timing of one video stream as ffprobe printed it (<c>-show_streams</c> has every field it needs), or null
    /// when it states no usable constant frame rate or frame count.
    /// </summary>
    internal static VideoTiming? From(JsonElement stream, JsonElement? format)
    {
        var rate = Fraction(stream, "avg_frame_rate") ?? Fraction(stream, "r_frame_rate");
        if (rate is not { } r)
        {
            return null;
        }

        var frames = MediaInfo.Number(stream, "nb_frames") is { } n and > 0 ? (long)n
            : (MediaInfo.Number(stream, "duration") ?? (format is { } f ? MediaInfo.Number(f, "duration") : null))
              is { } seconds and > 0 ? (long)Math.Round(seconds * r.Numerator / r.Denominator)
            : 0;
        return frames > 0 ? new VideoTiming(r.Numerator, r.Denominator, frames) : null;
    }

    private static (long Numerator, long Denominator)? Fraction(JsonElement stream, string name)
    {
        var text = stream.TryGetProperty(name, out var value) ? value.GetString() : null;
        var parts = text?.Split('/');
        return parts is { Length: 2 }
               && long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var num)
               && long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var den)
               && num > 0 && den > 0 && (double)num / den is > 0.5 and < 1000
            ? (num, den)
            : null;
    }
}
