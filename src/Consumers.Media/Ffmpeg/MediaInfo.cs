using System.Globalization;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime.Failures;

namespace Consumers.Media.Ffmpeg;

/// <summary>
/// What ffprobe says about a file: container, duration and streams, and the first video stream's timing
/// (<see cref="VideoTiming"/>, null when it has no usable constant frame rate) from the same probe.
/// </summary>
public sealed record MediaInfo(string Container, double? DurationSeconds, IReadOnlyList<MediaTrack> Streams, long? SizeBytes = null,
    VideoTiming? VideoTiming = null)
{
    public MediaTrack? Video => Streams.FirstOrDefault(s => s.Type == "video");

    public MediaTrack? Audio => Streams.FirstOrDefault(s => s.Type == "audio");

    public static async Task<MediaInfo> ProbeAsync(FfmpegRunner runner, string path, CancellationToken cancellationToken)
    {
        var result = await runner.ProbeAsync(
            ["-v", "error", "-protocol_whitelist", "file", "-format_whitelist", runner.Options.AllowedFormats,
             "-show_format", "-show_streams", "-of", "json", "file:" + path], cancellationToken);
        if (result.ExitCode != 0)
        {
            throw FfmpegFailures.Classify("ffprobe", result);
        }

        try
        {
            using var json = JsonDocument.Parse(result.Output);
            var format = json.RootElement.GetProperty("format");
            var elements = json.RootElement.TryGetProperty("streams", out var list) ? list.EnumerateArray().ToList() : [];
            var streams = elements.Select(MediaTrack.From).ToList();
            if (streams.Count == 0)
            {
                throw new JobFailureException(ErrorCodes.CorruptMedia, "ffprobe found no streams in the source");
            }

            var video = streams.FindIndex(s => s.Type == "video");
            return new MediaInfo(format.GetProperty("format_name").GetString() ?? "", Number(format, "duration"), streams,
                Number(format, "size") is { } size ? (long)size : null,
                video >= 0 ? Ffmpeg.VideoTiming.From(elements[video], format) : null);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new JobFailureException(ErrorCodes.CorruptMedia, "ffprobe output could not be read: " + ex.Message, ex);
        }
    }

    internal static double? Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
            ? number
            : null;
}

public sealed record MediaTrack(int Index, string Type, string Codec, int? Width, int? Height, int? SampleRate, int? Channels)
{
    internal static MediaTrack From(JsonElement s) => new(
        s.GetProperty("index").GetInt32(),
        s.TryGetProperty("codec_type", out var type) ? type.GetString() ?? "" : "",
        s.TryGetProperty("codec_name", out var codec) ? codec.GetString() ?? "" : "",
        s.TryGetProperty("width", out var w) ? w.GetInt32() : null,
        s.TryGetProperty("height", out var h) ? h.GetInt32() : null,
        MediaInfo.Number(s, "sample_rate") is { } rate ? (int)rate : null,
        s.TryGetProperty("channels", out var c) ? c.GetInt32() : null);
}
