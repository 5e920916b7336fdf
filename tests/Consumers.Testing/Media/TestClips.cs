using System.Diagnostics;

namespace Consumers.Testing.Media;

/// <summary>Test media made by ffmpeg itself from its lavfi sources, so nothing binary is committed.</summary>
public static class TestClips
{
    /// <summary>A clip of <paramref name="seconds"/> at 320x240, 25 fps, H.264, with a 440 Hz tone unless <paramref name="audio"/> is false.</summary>
    public static async Task<string> CreateAsync(string folder, string name, int seconds, bool audio = true, string size = "320x240")
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name);
        List<string> args = ["-nostdin", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", $"testsrc=size={size}:rate=25:duration={seconds}"];
        if (audio)
        {
            args.AddRange(["-f", "lavfi", "-i", $"sine=frequency=440:duration={seconds}", "-c:a", "aac"]);
        }

        args.AddRange(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-y", path]);
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, UseShellExecute = false };
        args.ForEach(start.ArgumentList.Add);
        using var process = Process.Start(start)!;
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException("ffmpeg could not make the test clip: " + errors);
        }

        return path;
    }
}
