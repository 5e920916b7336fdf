using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;
using Consumers.Contracts;
using Consumers.Media;
using Consumers.Media.Ffmpeg;
using Consumers.Media.Stages;
using Consumers.Runtime.Flow;

namespace Consumers.Bench.Sections;

/// <summary>
/// What the runtime leaves of the machine's encoding capacity: N generated 720p clips with audio are transcoded to
/// 240p with the transcode stage's own ffmpeg arguments, first as plain ffmpeg processes with the parallelism of
/// the worker's transcode lane, then as N transcode jobs through one worker warmed up by one transcode (first
/// <c>started</c> to last <c>completed</c>). Ratio = plain wall / runtime wall. Then where a job's time goes.
/// </summary>
public static class MediaSection
{
    private const string CacheFolder = "consumers-bench-media";

    /// <summary>Seconds between the warm-up transcode and the measured jobs.</summary>
    private const int IdleSettleSeconds = 10;

    public static async Task<SectionResult> RunAsync(BenchContext context)
    {
        var options = context.Options;
        var environment = context.Environment;
        var result = new SectionResult("media");
        var slots = TranscodeSlots(options);
        result.Settings["clips"] = string.Create(CultureInfo.InvariantCulture, $"{options.MediaClips} x {options.MediaClipSeconds} s 1280x720 30 fps + 48 kHz stereo");
        result.Settings["transcode"] = "240p, 500k, the stage's own arguments (TranscodeStage.EncodeArguments)";
        result.Settings["parallelism"] = string.Create(CultureInfo.InvariantCulture, $"{slots} (the worker's transcode lane slots)");

        var ffmpeg = new FfmpegRunner(Microsoft.Extensions.Options.Options.Create(new MediaOptions()));
        var cache = Path.Combine(Path.GetTempPath(), CacheFolder);
        Directory.CreateDirectory(cache);
        var clips = new List<string>();
        for (var i = 0; i < options.MediaClips; i++)
        {
            clips.Add(await GenerateClipAsync(ffmpeg, cache, i, options.MediaClipSeconds));
        }

        // Plain ffmpeg: the same command line a job runs (the runner's options first), lane-wide parallelism.
        var plainOut = Directory.CreateTempSubdirectory("bench-media-plain-");
        var plain = await RunPlainAsync(ffmpeg, clips, plainOut.FullName, slots);
        Progress.Line(string.Create(CultureInfo.InvariantCulture, $"media: plain ffmpeg {plain.WallSeconds:F1} s for {clips.Count} clips"));

        // The parts of a job around the encode, alone, on the same files.
        var probes = new List<double>();
        var validations = new List<double>();
        var layoutChecks = new List<double>();
        var layoutPassed = 0;
        var hashes = new List<double>();
        var stage = new TranscodeStage(ffmpeg);
        for (var i = 0; i < clips.Count; i++)
        {
            probes.Add(await TimeAsync(() => MediaInfo.ProbeAsync(ffmpeg, clips[i], CancellationToken.None)));
            var output = plain.Outputs[i];
            validations.Add(await TimeAsync(() => stage.ValidateAsync(output, CancellationToken.None)));
            layoutChecks.Add(await TimeAsync(() =>
            {
                layoutPassed += Mp4Layout.IsWholeFastStartH264(output) ? 1 : 0;
                return Task.CompletedTask;
            }));
            hashes.Add(await TimeAsync(() => HashAndFlushAsync(output)));
        }

        // The runtime: one worker, warmed up by one transcode, then every clip as a job at once.
        var overrides = new Dictionary<string, string?>(ThroughputSection.WorkerOverrides(options))
        {
            ["Consumers:Artifacts:MediaRoots:1"] = cache,
        };
        var worker = await environment.StartWorkerAsync("bench-media", options.Concurrency, overrides);
        Progress.Line("media: warm-up transcode");
        await SubmitAsync(environment, "media-warmup", clips.Take(1).ToList());
        if (!await SyntheticJobs.WaitFinishedAsync(environment, "media-warmup", 1, TimeSpan.FromSeconds(600), "media warm-up"))
        {
            throw new SectionFailedException(result, "the warm-up transcode did not finish within 600 s");
        }

        // What the worker burns with nothing to run (monitors, timers), to tell it from what the jobs cost. Right after
        // the warm-up the runtime is still compiling (about 200 ms of CPU per second for some seconds): let it settle first.
        await Task.Delay(TimeSpan.FromSeconds(IdleSettleSeconds));
        var idleBefore = ProcessCpu.Of(worker.Pid) ?? TimeSpan.Zero;
        var idleClock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(5));
        var idleCpuPerSecond = ((ProcessCpu.Of(worker.Pid) ?? TimeSpan.Zero) - idleBefore).TotalSeconds / idleClock.Elapsed.TotalSeconds;

        var heartbeatsBefore = Stats.ParseCounter(await worker.ScrapeAsync(), "heartbeats_total");
        var ownBefore = ProcessCpu.Of(worker.Pid) ?? TimeSpan.Zero;
        var childrenBefore = ProcessCpu.WaitedChildrenOf(worker.Pid) ?? TimeSpan.Zero;
        Progress.Line($"media: {clips.Count} transcode jobs");
        var ids = await SubmitAsync(environment, "media", clips);
        var finished = await SyntheticJobs.WaitFinishedAsync(environment, "media", clips.Count, TimeSpan.FromSeconds(Math.Max(600, plain.WallSeconds * 5)), "media");
        var workerCpu = (ProcessCpu.Of(worker.Pid) ?? TimeSpan.Zero) - ownBefore;
        var workerChildrenCpu = (ProcessCpu.WaitedChildrenOf(worker.Pid) ?? TimeSpan.Zero) - childrenBefore;
        var heartbeats = Stats.ParseCounter(await worker.ScrapeAsync(), "heartbeats_total") - heartbeatsBefore;
        await environment.StopWorkersAsync();

        // Plain once more: on a shared machine the load drifts, and the reference is the mean of before and after.
        var plainAfter = await RunPlainAsync(ffmpeg, clips, plainOut.FullName, slots);
        plainOut.Delete(recursive: true);
        Progress.Line(string.Create(CultureInfo.InvariantCulture, $"media: plain ffmpeg again {plainAfter.WallSeconds:F1} s"));
        var plainWall = (plain.WallSeconds + plainAfter.WallSeconds) / 2;

        var events = new List<(Guid, string, DateTime)>();
        await environment.QueryAsync(
            "SELECT e.job_id, e.type, e.occurred_at FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE j.output_key LIKE @prefix",
            r => events.Add((r.GetGuid(0), r.GetString(1), r.GetDateTime(2))), ("prefix", "media/%"));
        var timeline = TranscodeTimeline.From(events, slots);
        var (succeeded, failed) = await SyntheticJobs.CountAsync(environment, "media");

        result.Add("plain ffmpeg wall", plainWall, "s", string.Create(CultureInfo.InvariantCulture,
            $"mean of {plain.WallSeconds:F1} s before the jobs and {plainAfter.WallSeconds:F1} s after; {clips.Count} processes, {slots} at a time; their CPU {plain.ChildCpu.TotalSeconds:F1} s and {plainAfter.ChildCpu.TotalSeconds:F1} s"));
        result.Add("runtime wall (first started → last completed)", timeline.WindowSeconds, "s",
            $"{succeeded} succeeded, {failed} failed{(finished ? "" : "; NOT all finished")}; {ids.Count} jobs through one warmed-up worker");
        Targets.AddAtLeast(result, "media efficiency (plain wall / runtime wall)", plainWall, finished ? timeline.WindowSeconds : null, Targets.MediaEfficiency);
        var plainCpu = (plain.ChildCpu + plainAfter.ChildCpu).TotalSeconds / 2;
        result.Add("CPU efficiency (plain ffmpeg CPU / all CPU of the jobs)", Targets.Ratio(plainCpu, (workerChildrenCpu + workerCpu).TotalSeconds), "x",
            "the jobs' CPU: ffmpeg and ffprobe under the worker plus the worker's own; less moved by a busy machine than the wall ratio");
        result.Add("worker process CPU for the jobs", workerCpu.TotalSeconds, "s", "/proc utime+stime of the worker alone, ffmpeg and ffprobe not counted");
        result.Add("  of which an idle worker burns in the same time", idleCpuPerSecond * timeline.WindowSeconds, "s",
            string.Create(CultureInfo.InvariantCulture, $"{idleCpuPerSecond * 1000:F0} ms CPU per second, measured over 5 s without jobs, {IdleSettleSeconds} s after the warm-up"));
        result.Add("ffmpeg + ffprobe CPU under the worker", workerChildrenCpu.TotalSeconds, "s",
            string.Create(CultureInfo.InvariantCulture,
                $"the worker's waited children (ffmpeg and ffprobe); plain ffmpeg used {plainCpu:F1} s for the same encodes"));

        // Where one job's time goes (medians over the clips).
        var jobWall = Stats.Median(timeline.JobWallSeconds);
        var encode = Stats.Median(plain.ClipSeconds.Concat(plainAfter.ClipSeconds));
        var probe = Stats.Median(probes);
        var validate = Stats.Median(validations);
        var hash = Stats.Median(hashes);
        result.Add("per job: started → completed", jobWall, "s", "timeline, median");
        result.Add("  encode (the same clip as plain ffmpeg)", encode, "s", "median plain ffmpeg wall per clip (both plain runs), same parallelism");
        result.Add("  source probe (ffprobe)", probe * 1000, "ms", "measured alone on the same clips, median");
        result.Add("  output check at commit (in-process MP4 read-back)", Stats.Median(layoutChecks) * 1000, "ms",
            $"Mp4Layout.IsWholeFastStartH264 alone, median; passed for {layoutPassed} of {clips.Count} outputs (a failure falls back to the ffprobe below)");
        result.Add("  ffprobe validation (existing artifacts, fallback)", validate * 1000, "ms", "TranscodeStage.ValidateAsync alone on the plain outputs, median; not run for a fresh proxy that passed the read-back");
        result.Add("  output hash + fsync (SHA-256)", hash * 1000, "ms", "as the artifact commit does, alone, median");
        result.Add("  rest: acquire, scratch, move, commit and finalize transactions, progress, beats", jobWall - encode - probe - Stats.Median(layoutChecks) - hash is { } rest ? rest * 1000 : null, "ms",
            "job wall minus the parts above; negative when the encode ran faster under the worker");
        result.Add("  start spread of the first jobs", timeline.FirstWaveSpreadSeconds is { } spread ? spread * 1000 : null, "ms",
            $"first started → started of job {Math.Min(slots, timeline.JobWallSeconds.Count)} (plain ffmpeg starts them at once)");
        result.Add("  slot hand-off (completed → next started)", Stats.Median(timeline.HandOffSeconds) is { } handOff ? handOff * 1000 : null, "ms",
            $"median over {timeline.HandOffSeconds.Count} hand-offs");
        result.Add("  heartbeats per job", heartbeats / clips.Count, "beats", "heartbeats_total delta of the worker / jobs");
        result.Add("  progress events per job", timeline.ProgressEvents / (double)clips.Count, "events", "Consumers:Worker:ProgressMinDelta / ProgressMinInterval");
        result.Notes.Add("Plain ffmpeg is what the machine gives the same encodes with nothing else in the way; a ratio below 1 is the runtime's cost " +
                         "(its own CPU, the second probe, the hash, the transactions, and idle slots between jobs). On a loaded machine both sides vary: " +
                         "compare figures of one run.");
        return result;
    }

    /// <summary>The worker's transcode lane slots: the configured ones, or the shipped default.</summary>
    public static int TranscodeSlots(BenchOptions options) =>
        options.WorkerSettings.TryGetValue("Consumers:Flow:Stages:transcode:Slots", out var text)
        && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var configured) && configured > 0
            ? configured
            : new FlowOptions().Stages.TryGetValue("transcode", out var lane) && lane.Slots > 0 ? lane.Slots : options.Concurrency;

    private static async Task<List<Guid>> SubmitAsync(BenchEnvironment environment, string prefix, List<string> clips)
    {
        var ids = new List<Guid>();
        for (var i = 0; i < clips.Count; i++)
        {
            var request = new JobRequested
            {
                JobId = Guid.CreateVersion7(),
                Stage = "transcode",
                Source = clips[i],
                OutputKey = string.Create(CultureInfo.InvariantCulture, $"{prefix}/{i}.mp4"),
            };
            await environment.Store.SubmitAsync(request, maxAttempts: 3, CancellationToken.None);
            ids.Add(request.JobId);
        }

        return ids;
    }

    private sealed record PlainRun(double WallSeconds, IReadOnlyList<double> ClipSeconds, IReadOnlyList<string> Outputs, TimeSpan ChildCpu);

    private static async Task<PlainRun> RunPlainAsync(FfmpegRunner ffmpeg, List<string> clips, string folder, int parallelism)
    {
        var self = Environment.ProcessId;
        var cpuBefore = ProcessCpu.WaitedChildrenOf(self) ?? TimeSpan.Zero;
        var seconds = new double[clips.Count];
        var outputs = clips.Select((_, i) => Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"{i}.mp4"))).ToList();
        using var gate = new SemaphoreSlim(parallelism);
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(clips.Select(async (clip, i) =>
        {
            await gate.WaitAsync();
            try
            {
                var arguments = FfmpegRunner.EncodeCommandLine(TranscodeStage.EncodeArguments(ffmpeg, clip, outputs[i]));
                seconds[i] = await TimeAsync(() => RunToEndAsync(ffmpeg.Options.FfmpegPath, arguments));
            }
            finally
            {
                gate.Release();
            }
        }));
        var total = wall.Elapsed.TotalSeconds;
        return new PlainRun(total, seconds, outputs, (ProcessCpu.WaitedChildrenOf(self) ?? TimeSpan.Zero) - cpuBefore);
    }

    /// <summary>A 720p test pattern with a tone, cached between runs (generating costs more than transcoding).</summary>
    private static async Task<string> GenerateClipAsync(FfmpegRunner ffmpeg, string cache, int index, int seconds)
    {
        var path = Path.Combine(cache, string.Create(CultureInfo.InvariantCulture, $"clip-720p-{seconds}s-{index}.mp4"));
        if (File.Exists(path))
        {
            return path;
        }

        Progress.Line($"media: generating {Path.GetFileName(path)}");
        var partial = path + ".partial.mp4";
        var duration = seconds.ToString(CultureInfo.InvariantCulture);
        await RunToEndAsync(ffmpeg.Options.FfmpegPath,
        [
            "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", $"testsrc2=size=1280x720:rate=30:duration={duration}",
            "-f", "lavfi", "-i", string.Create(CultureInfo.InvariantCulture, $"sine=frequency={330 + (index * 55)}:sample_rate=48000:duration={duration}"),
            "-ac", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
            "-shortest", partial,
        ]);
        File.Move(partial, path, overwrite: true);
        return path;
    }

    private static async Task RunToEndAsync(string tool, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{tool} did not start");
        // Progress lines go to stdout (as in a job); both pipes are drained so ffmpeg never blocks on them.
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        await stdout;
        var errors = await stderr;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} exited with {process.ExitCode}: {errors}");
        }
    }

    private static async Task HashAndFlushAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        RandomAccess.FlushToDisk(stream.SafeFileHandle);
        await SHA256.HashDataAsync(stream);
    }

    private static async Task<double> TimeAsync(Func<Task> action)
    {
        var clock = Stopwatch.StartNew();
        await action();
        return clock.Elapsed.TotalSeconds;
    }
}
