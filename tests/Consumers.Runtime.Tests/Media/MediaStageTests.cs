using System.Diagnostics;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.Media;
using Consumers.Media.Ffmpeg;
using Consumers.Media.Stages;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Stages;
using Consumers.Testing.Media;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Tests.Media;

/// <summary>Each ffmpeg stage on clips ffmpeg generates, checked by reading the artifact back.</summary>
public sealed class MediaStageTests : IAsyncLifetime
{
    private readonly string folder = Directory.CreateTempSubdirectory("media-").FullName;
    private readonly FfmpegRunner ffmpeg = new(Options.Create(new MediaOptions()));
    private string clip = "";

    public async Task InitializeAsync() => clip = await TestClips.CreateAsync(folder, "clip.mp4", 5);

    public Task DisposeAsync()
    {
        Directory.Delete(folder, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Probe_reports_container_duration_and_streams()
    {
        var output = await RunAsync(new ProbeStage(ffmpeg), clip);

        var info = JsonSerializer.Deserialize<MediaInfo>(await File.ReadAllTextAsync(output), ContractJson.Options)!;
        Assert.Contains("mp4", info.Container, StringComparison.Ordinal);
        Assert.InRange(info.DurationSeconds!.Value, 4.8, 5.2);
        Assert.Equal(320, info.Video!.Width);
        Assert.Equal("aac", info.Audio!.Codec);
    }

    [Fact]
    public async Task Thumbnail_is_a_jpeg_of_the_requested_width()
    {
        var output = await RunAsync(new ThumbnailStage(ffmpeg), clip, ("width", "160"), ("atSeconds", "2"));

        Assert.Equal((160, 120), JpegSize.Read(await File.ReadAllBytesAsync(output)));
    }

    [Fact]
    public async Task Transcode_makes_an_h264_proxy_of_the_requested_height_and_reports_progress()
    {
        var reports = new List<double>();
        var output = await RunAsync(new TranscodeStage(ffmpeg), clip, reports, ("height", "120"));

        var info = await MediaInfo.ProbeAsync(ffmpeg, output, CancellationToken.None);
        Assert.Equal("h264", info.Video!.Codec);
        Assert.Equal(120, info.Video.Height);
        Assert.Equal("aac", info.Audio!.Codec);
        Assert.NotEmpty(reports);
        Assert.Equal(reports.Order(), reports);
    }

    [Fact]
    public async Task Waveform_has_the_requested_number_of_peaks_from_real_audio()
    {
        var output = await RunAsync(new WaveformStage(ffmpeg), clip, ("points", "50"));

        var waveform = JsonSerializer.Deserialize<WaveformStage.Waveform>(await File.ReadAllTextAsync(output), ContractJson.Options)!;
        Assert.Equal(50, waveform.Peaks.Count);
        Assert.InRange(waveform.DurationSeconds, 4.8, 5.2);
        Assert.All(waveform.Peaks, p => Assert.True(p[1] > 1000, "a sine tone has loud peaks in every bucket"));
    }

    [Fact]
    public async Task Waveform_of_a_silent_video_without_audio_is_unsupported()
    {
        var mute = await TestClips.CreateAsync(folder, "mute.mp4", 1, audio: false);

        var error = await Assert.ThrowsAsync<JobFailureException>(() => RunAsync(new WaveformStage(ffmpeg), mute));

        Assert.Equal(ErrorCodes.UnsupportedMedia, error.Code);
    }

    [Theory]
    [InlineData("empty")]
    [InlineData("truncated")]
    [InlineData("text")]
    public async Task Broken_sources_are_corrupt_media(string kind)
    {
        var path = Path.Combine(folder, kind + ".mp4");
        var bytes = kind switch
        {
            "empty" => [],
            "truncated" => (await File.ReadAllBytesAsync(clip))[..4000],
            _ => "this is not a video at all"u8.ToArray(),
        };
        await File.WriteAllBytesAsync(path, bytes);

        var error = await Assert.ThrowsAsync<JobFailureException>(() => RunAsync(new TranscodeStage(ffmpeg), path));

        Assert.Contains(error.Code, new[] { ErrorCodes.CorruptMedia, ErrorCodes.UnsupportedMedia });
    }

    [Fact]
    public async Task A_crafted_playlist_cannot_make_ffmpeg_read_other_files()
    {
        var outside = Path.Combine(Directory.CreateTempSubdirectory("outside-").FullName, "secret.mp4");
        File.Copy(clip, outside);
        var playlist = Path.Combine(folder, "evil.m3u8");
        await File.WriteAllTextAsync(playlist, $"#EXTM3U\n#EXT-X-TARGETDURATION:5\n#EXTINF:5,\nfile:{outside}\n#EXT-X-ENDLIST\n");
        var concat = Path.Combine(folder, "evil.mp4");
        await File.WriteAllTextAsync(concat, $"ffconcat version 1.0\nfile '{outside}'\n");

        foreach (var source in new[] { playlist, concat })
        {
            var error = await Assert.ThrowsAsync<JobFailureException>(() => RunAsync(new ProbeStage(ffmpeg), source));
            Assert.Contains(error.Code, new[] { ErrorCodes.UnsupportedMedia, ErrorCodes.CorruptMedia });
        }

        File.Delete(outside);
    }

    [Fact]
    public async Task Cancelling_a_transcode_stops_ffmpeg()
    {
        var longClip = await TestClips.CreateAsync(folder, "long.mp4", 60, size: "640x480");
        using var cancel = new CancellationTokenSource();
        var reports = new List<double>();
        var progress = new SynchronousProgress(p =>
        {
            reports.Add(p);
            cancel.Cancel();
        });
        var context = Context(longClip, progress, ("height", "480"));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new TranscodeStage(ffmpeg).RunAsync(context, cancel.Token));

        Assert.NotEmpty(reports);
        Assert.DoesNotContain(Process.GetProcessesByName("ffmpeg"), p => CommandLine(p.Id).Contains(folder, StringComparison.Ordinal));
    }

    private async Task<string> RunAsync(IStage stage, string source, params (string Key, string Value)[] parameters) =>
        await RunAsync(stage, source, [], parameters);

    private async Task<string> RunAsync(IStage stage, string source, List<double> reports, params (string Key, string Value)[] parameters)
    {
        var output = await stage.RunAsync(Context(source, new SynchronousProgress(reports.Add), parameters), CancellationToken.None);
        await stage.ValidateAsync(output.FilePath, CancellationToken.None);
        return output.FilePath;
    }

    private StageContext Context(string source, IProgress<double> progress, params (string Key, string Value)[] parameters)
    {
        var scratch = Directory.CreateDirectory(Path.Combine(folder, "scratch-" + Guid.NewGuid().ToString("N"))).FullName;
        var request = new JobRequested { Stage = "x", Source = source, OutputKey = "x", Parameters = parameters.ToDictionary(p => p.Key, p => p.Value) };
        return new StageContext(Guid.NewGuid(), 1, request, source, scratch, progress);
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
    }

    private sealed class SynchronousProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
