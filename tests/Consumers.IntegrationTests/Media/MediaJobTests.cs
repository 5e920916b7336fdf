using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Testing.Media;
using MassTransit;

namespace Consumers.IntegrationTests.Media;

/// <summary>Media jobs through the whole path: progress, idempotent artifacts, a kill mid-transcode.</summary>
public sealed class MediaJobTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_transcode_reports_few_increasing_progress_events_ending_at_100_and_a_second_job_for_the_key_skips()
    {
        await TestClips.CreateAsync(env.MediaRoot, "twenty.mp4", 20);
        var worker = await env.StartWorkerAsync(overrides: new Dictionary<string, string?> { ["Consumers:Worker:ProgressMinInterval"] = "00:00:01" });
        var first = Transcode("twenty.mp4", "proxies/twenty.mp4");

        await worker.Get<IBus>().Publish(first);
        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(first.JobId)).Status);

        var timeline = await env.TimelineAsync(first.JobId);
        var progress = timeline.Where(e => e.Type == TimelineEventTypes.Progress)
            .Select(e => int.Parse(JsonDocument.Parse(e.Data).RootElement.GetProperty("percent").GetString()!, CultureInfo.InvariantCulture)).ToList();
        Assert.InRange(progress.Count, 1, 11);
        Assert.Equal(progress.Order(), progress);
        Assert.Equal(100, progress[^1]);
        Assert.Equal(TimelineEventTypes.Completed, timeline[^1].Type);

        var artifact = new FileInfo(Path.Combine(env.ArtifactRoot, "proxies", "twenty.mp4"));
        var identity = (Inode(artifact.FullName), artifact.LastWriteTimeUtc, artifact.Length);
        var second = Transcode("twenty.mp4", "proxies/twenty.mp4");
        await worker.Get<IBus>().Publish(second);

        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(second.JobId)).Status);
        var skipped = (await env.TimelineAsync(second.JobId)).Last();
        Assert.Equal(TimelineEventTypes.Skipped, skipped.Type);
        artifact.Refresh();
        Assert.Equal(identity, (Inode(artifact.FullName), artifact.LastWriteTimeUtc, artifact.Length));
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task A_worker_killed_mid_transcode_leaves_no_partial_artifact_and_no_ffmpeg_behind()
    {
        await TestClips.CreateAsync(env.MediaRoot, "long.mp4", 90, size: "640x480");
        await using var worker = await env.StartWorkerProcessAsync("transcoder");
        var job = Transcode("long.mp4", "proxies/long.mp4") with { Parameters = new Dictionary<string, string> { ["height"] = "480", ["videoBitrate"] = "2000k" } };
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        await Eventually.WaitAsync(async () => (await env.JobAsync(job.JobId))?.ProgressPercent > 0 || FfmpegUnder(env.ScratchRoot).Count > 0,
            TimeSpan.FromSeconds(60), () => "the transcode never started");
        Assert.NotEmpty(FfmpegUnder(env.ScratchRoot));

        await worker.KillAsync();

        await Eventually.WaitAsync(() => Task.FromResult(FfmpegUnder(env.ScratchRoot).Count == 0), TimeSpan.FromSeconds(30),
            () => "ffmpeg outlived its worker");
        Assert.False(File.Exists(Path.Combine(env.ArtifactRoot, "proxies", "long.mp4")));
        Assert.Empty(Directory.EnumerateFiles(env.ArtifactRoot, "*", SearchOption.AllDirectories));
    }

    private static JobRequested Transcode(string source, string key) => new()
    {
        JobId = Guid.NewGuid(),
        Stage = "transcode",
        Source = source,
        OutputKey = key,
        Parameters = new Dictionary<string, string> { ["height"] = "120" },
    };

    private static List<int> FfmpegUnder(string folder) =>
        [.. Process.GetProcessesByName("ffmpeg").Where(p => CommandLine(p.Id).Contains(folder, StringComparison.Ordinal)).Select(p => p.Id)];

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

    private static long Inode(string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%i", path]) { RedirectStandardOutput = true })!;
        var inode = stat.StandardOutput.ReadToEnd();
        stat.WaitForExit();
        return long.Parse(inode.Trim(), CultureInfo.InvariantCulture);
    }
}
