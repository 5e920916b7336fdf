using System.Diagnostics;
using Consumers.Contracts;
using Consumers.Media;
using Consumers.Media.Ffmpeg;
using Consumers.Media.Stages;
using Consumers.Runtime.Stages;
using Consumers.Testing.Media;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Tests.Media;

/// <summary>
/// The in-process read-back that lets a fresh transcode skip the second ffprobe: it must pass the stage's own output
/// and refuse anything that is cut off, not fast-start or not H.264, so those still go through ffprobe.
/// </summary>
public sealed class Mp4LayoutTests : IAsyncLifetime
{
    private readonly string folder = Directory.CreateTempSubdirectory("mp4-layout-").FullName;
    private readonly FfmpegRunner ffmpeg = new(Options.Create(new MediaOptions()));
    private string clip = "";

    public async Task InitializeAsync() => clip = await TestClips.CreateAsync(folder, "clip.mp4", 2);

    public Task DisposeAsync()
    {
        Directory.Delete(folder, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_fresh_transcode_is_validated_by_the_stage_and_ffprobe_agrees()
    {
        var output = await TranscodeAsync();

        Assert.True(output.Validated);
        Assert.True(Mp4Layout.IsWholeFastStartH264(output.FilePath));
        await new TranscodeStage(ffmpeg).ValidateAsync(output.FilePath, CancellationToken.None);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(5000)]
    public async Task A_cut_off_proxy_is_refused(int missingBytes)
    {
        var output = await TranscodeAsync();
        var bytes = await File.ReadAllBytesAsync(output.FilePath);
        var cut = Path.Combine(folder, "cut.mp4");
        await File.WriteAllBytesAsync(cut, bytes[..^missingBytes]);

        Assert.False(Mp4Layout.IsWholeFastStartH264(cut));
    }

    [Fact]
    public async Task Trailing_bytes_after_the_last_box_are_refused()
    {
        var output = await TranscodeAsync();
        await File.AppendAllTextAsync(output.FilePath, "garbage");

        Assert.False(Mp4Layout.IsWholeFastStartH264(output.FilePath));
    }

    [Fact]
    public void An_index_after_the_media_data_is_not_fast_start() =>
        // The test clip is written without +faststart: moov comes after mdat.
        Assert.False(Mp4Layout.IsWholeFastStartH264(clip));

    [Fact]
    public async Task Another_video_codec_is_refused()
    {
        var mpeg4 = Path.Combine(folder, "mpeg4.mp4");
        await FfmpegAsync("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1", "-c:v", "mpeg4", "-movflags", "+faststart", "-y", mpeg4);

        Assert.False(Mp4Layout.IsWholeFastStartH264(mpeg4));
    }

    [Fact]
    public async Task Empty_missing_and_non_mp4_files_are_refused()
    {
        var empty = Path.Combine(folder, "empty.mp4");
        var text = Path.Combine(folder, "text.mp4");
        await File.WriteAllBytesAsync(empty, []);
        await File.WriteAllTextAsync(text, "this is not a video at all");

        Assert.False(Mp4Layout.IsWholeFastStartH264(empty));
        Assert.False(Mp4Layout.IsWholeFastStartH264(text));
        Assert.False(Mp4Layout.IsWholeFastStartH264(Path.Combine(folder, "missing.mp4")));
    }

    private async Task<StageOutput> TranscodeAsync()
    {
        var scratch = Directory.CreateDirectory(Path.Combine(folder, "scratch-" + Guid.NewGuid().ToString("N"))).FullName;
        var request = new JobRequested { Stage = "transcode", Source = clip, OutputKey = "x", Parameters = new Dictionary<string, string> { ["height"] = "120" } };
        var context = new StageContext(Guid.NewGuid(), 1, request, clip, scratch, new Progress<double>());
        return await new TranscodeStage(ffmpeg).RunAsync(context, CancellationToken.None);
    }

    private static async Task FfmpegAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])["-nostdin", "-hide_banner", "-loglevel", "error", .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, errors);
    }
}
