using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Consumers.IntegrationTests.Media;

/// <summary>What ffprobe and ffmpeg say about an output, for comparing a segmented transcode with a one-pass one.</summary>
internal static class MediaCompare
{
    /// <summary>Per stream (in order): codec type, codec, start time and duration in seconds, decoded frame count.</summary>
    public static async Task<List<(string Type, string Codec, double Start, double Duration, long Frames)>> StreamsAsync(string path)
    {
        var json = await RunAsync("ffprobe", ["-v", "error", "-count_frames", "-show_entries", "stream=codec_type,codec_name,start_time,duration,nb_read_frames",
            "-of", "json", path]);
        using var doc = JsonDocument.Parse(json.Output);
        return [.. doc.RootElement.GetProperty("streams").EnumerateArray().Select(s => (
            s.GetProperty("codec_type").GetString()!,
            s.GetProperty("codec_name").GetString()!,
            double.Parse(s.GetProperty("start_time").GetString()!, CultureInfo.InvariantCulture),
            double.Parse(s.GetProperty("duration").GetString()!, CultureInfo.InvariantCulture),
            long.Parse(s.GetProperty("nb_read_frames").GetString()!, CultureInfo.InvariantCulture)))];
    }

    /// <summary>What <c>ffmpeg -v error -i path -f null -</c> prints: empty for a file that decodes cleanly.</summary>
    public static async Task<string> DecodeErrorsAsync(string path)
    {
        var run = await RunAsync("ffmpeg", ["-nostdin", "-v", "error", "-i", path, "-f", "null", "-"]);
        return run.Exit == 0 ? run.Errors.Trim() : $"exit {run.Exit}: {run.Errors}";
    }

    /// <summary>The lowest per-frame PSNR (dB) of <paramref name="a"/>'s video against <paramref name="b"/>'s, frame by frame.</summary>
    public static async Task<double> LowestPsnrAsync(string a, string b)
    {
        var stats = Path.GetTempFileName();
        try
        {
            var run = await RunAsync("ffmpeg", ["-nostdin", "-v", "error", "-i", a, "-i", b, "-lavfi", $"[0:v][1:v]psnr=stats_file={stats}", "-f", "null", "-"]);
            Assert.True(run.Exit == 0, run.Errors);
            return File.ReadAllLines(stats)
                .Select(l => l.Split(' ').First(f => f.StartsWith("psnr_avg:", StringComparison.Ordinal))[9..])
                .Select(v => v == "inf" ? double.PositiveInfinity : double.Parse(v, CultureInfo.InvariantCulture))
                .Min();
        }
        finally
        {
            File.Delete(stats);
        }
    }

    /// <summary>The one-pass encode the transcode stage made before segmenting, with the same settings.</summary>
    public static async Task SinglePassAsync(string source, string output, int height)
    {
        var run = await RunAsync("ffmpeg", ["-nostdin", "-v", "error", "-i", source, "-map", "0:v:0", "-map", "0:a:0?",
            "-vf", $"scale=-2:{height}", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "500k", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", "-y", output]);
        Assert.True(run.Exit == 0, run.Errors);
    }

    private static async Task<(int Exit, string Output, string Errors)> RunAsync(string tool, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await errors);
    }
}
