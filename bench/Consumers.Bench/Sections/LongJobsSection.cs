using System.Diagnostics;
using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;
using Consumers.Contracts;
using Consumers.Testing.Faults;

namespace Consumers.Bench.Sections;

/// <summary>
/// Long transcodes: a generated source of <see cref="BenchOptions.LongJobSourceSeconds"/> (5 minutes) transcoded by one
/// worker in one pass, then segmented, then segmented with the worker SIGKILLed at 70 % (a second worker finishes).
/// Reports the cost of segmenting against one pass, the encode-seconds redone after the kill (from the transcode's
/// segment trace) and the killed run's wall time against the uninterrupted one, then the fan-out's wall time with 1, 2
/// and 3 workers (<see cref="LongJobsFanOut"/>). Times are the job's own timeline
/// (<c>requested</c> to <c>completed</c>), so worker start-up is not counted.
/// </summary>
public static class LongJobsSection
{
    private const string SourceName = "long-jobs.mp4";

    public static async Task<SectionResult> RunAsync(BenchContext context)
    {
        var options = context.Options;
        var environment = context.Environment;
        var seconds = Math.Max(300, options.LongJobSourceSeconds);
        var segmentSeconds = options.LongJobSegmentSeconds;
        var traces = Path.Combine(environment.LogRoot, "segments");
        var result = new SectionResult("long-jobs") { Runs = 1 };
        result.Settings["sourceSeconds"] = seconds.ToString(CultureInfo.InvariantCulture);
        result.Settings["source"] = "320x240 25 fps testsrc + 440 Hz AAC";
        result.Settings["transcode"] = "height 240, 500k, veryfast";
        result.Settings["segmentSeconds"] = segmentSeconds.ToString(CultureInfo.InvariantCulture);

        await GenerateSourceAsync(Path.Combine(environment.MediaRoot, SourceName), seconds);
        Progress.Line("long-jobs: one-pass transcode");
        var (single, singleCpu) = await RunUninterruptedAsync(environment, "single", 0, traces);
        Progress.Line(string.Create(CultureInfo.InvariantCulture, $"long-jobs: one pass took {single:F1}s; segmented transcode"));
        var (segmented, segmentedCpu) = await RunUninterruptedAsync(environment, "segmented", segmentSeconds, traces);
        Progress.Line(string.Create(CultureInfo.InvariantCulture, $"long-jobs: segmented took {segmented:F1}s; segmented with a SIGKILL at 70 %"));
        var (killedWall, redoneSegments, segments) = await RunKilledAsync(environment, segmentSeconds, traces);

        result.Add("one pass, wall", single, "s");
        result.Add("segmented, wall", segmented, "s");
        result.Add("segmenting overhead (wall)", single is > 0 && segmented is > 0 ? 100 * (segmented / single - 1) : null, "%",
            "moves with the machine's load: compare with the CPU figure below")
            .WithTarget("< 10 %", v => v < 10);
        // CPU seconds are far steadier than wall on a shared machine: ffmpeg and ffprobe under the worker (waited children)
        // plus the worker's own, from the job's start to its end (worker start-up left out).
        result.Add("one pass, CPU (ffmpeg + ffprobe + worker)", singleCpu?.Total.TotalSeconds, "s", CpuNote(singleCpu));
        result.Add("segmented, CPU (ffmpeg + ffprobe + worker)", segmentedCpu?.Total.TotalSeconds, "s", CpuNote(segmentedCpu));
        result.Add("segmenting overhead (CPU)",
                singleCpu is { } a && segmentedCpu is { } b && a.Total > TimeSpan.Zero ? 100 * (b.Total / a.Total - 1) : null, "%")
            .WithTarget("< 10 %", v => v < 10);
        result.Add("encode-seconds redone after SIGKILL at 70 %", redoneSegments * segmentSeconds, "s",
            $"{redoneSegments} of {segments} segments encoded twice")
            .WithTarget($"<= one segment ({segmentSeconds} s)", v => v <= segmentSeconds);
        result.Add("killed run, wall", killedWall, "s", "includes the lease expiry and sweep before the second worker resumes");
        result.Add("killed run against uninterrupted", killedWall is > 0 && segmented is > 0 ? killedWall / segmented : null, "x");
        await LongJobsFanOut.AddAsync(environment, result, segmentSeconds, traces, SourceName, segmented);
        return result;
    }

    private static async Task<(double? Wall, JobCpu? Cpu)> RunUninterruptedAsync(BenchEnvironment environment, string name, int segmentSeconds, string traces)
    {
        var worker = await environment.StartWorkerAsync($"bench-long-{name}", 1, Settings(segmentSeconds, traces));
        var before = JobCpu.Of(worker.Pid);
        var job = Job(name);
        await environment.Store.SubmitAsync(job, 3, CancellationToken.None);
        var wall = await WaitForCompletedAsync(environment, job.JobId, TimeSpan.FromMinutes(20));
        var after = JobCpu.Of(worker.Pid);
        await environment.StopWorkersAsync();
        return (wall, wall is null ? null : new JobCpu(after.Worker - before.Worker, after.Children - before.Children));
    }

    private static string? CpuNote(JobCpu? cpu) => cpu is { } c
        ? string.Create(CultureInfo.InvariantCulture, $"ffmpeg and ffprobe {c.Children.TotalSeconds:F1} s, the worker itself {c.Worker.TotalSeconds:F2} s")
        : null;

    /// <summary>A worker's own CPU and that of the children it waited for (its ffmpeg and ffprobe runs).</summary>
    private sealed record JobCpu(TimeSpan Worker, TimeSpan Children)
    {
        public TimeSpan Total => Worker + Children;

        public static JobCpu Of(int pid) => new(ProcessCpu.Of(pid) ?? TimeSpan.Zero, ProcessCpu.WaitedChildrenOf(pid) ?? TimeSpan.Zero);
    }

    private static async Task<(double? Wall, int Redone, int Segments)> RunKilledAsync(BenchEnvironment environment, int segmentSeconds, string traces)
    {
        var victim = await environment.StartWorkerAsync("bench-long-killed", 1, Settings(segmentSeconds, traces));
        var job = Job("killed");
        await environment.Store.SubmitAsync(job, 3, CancellationToken.None);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(20))
        {
            var trace = SegmentTrace.Read(traces, job.JobId);
            var count = trace.Count > 0 ? trace[0].Count : 0;
            if (count > 0 && trace.Count(l => l is { Step: "recorded", Index: >= 0 }) >= 0.7 * count)
            {
                break;
            }

            await Task.Delay(20);
        }

        await victim.KillAsync();
        Progress.Line("long-jobs: SIGKILLed the worker at 70 %; a second worker resumes");
        await environment.StartWorkerAsync("bench-long-resumer", 1, Settings(segmentSeconds, traces));
        var wall = await WaitForCompletedAsync(environment, job.JobId, TimeSpan.FromMinutes(20));
        await environment.StopWorkersAsync();
        var lines = SegmentTrace.Read(traces, job.JobId);
        var redone = lines.Where(l => l is { Step: "encode", Index: >= 0 }).GroupBy(l => l.Index).Sum(g => g.Count() - 1);
        return (wall, redone, lines.Count > 0 ? lines[0].Count : 0);
    }

    private static Dictionary<string, string?> Settings(int segmentSeconds, string traces) => new()
    {
        ["Consumers:Media:SegmentSeconds"] = segmentSeconds.ToString(CultureInfo.InvariantCulture),
        ["Consumers:Media:SegmentFromSeconds"] = "0",
        ["Consumers:Media:SegmentTraceDirectory"] = traces,
    };

    private static JobRequested Job(string name) => new()
    {
        JobId = Guid.NewGuid(),
        Stage = "transcode",
        Source = SourceName,
        OutputKey = $"long-jobs/{name}-{Guid.NewGuid():N}.mp4",
    };

    /// <summary>Seconds from the job's <c>requested</c> to its <c>completed</c> event, or null when it did not complete in time.</summary>
    internal static async Task<double?> WaitForCompletedAsync(BenchEnvironment environment, Guid jobId, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < bound)
        {
            var status = await environment.ScalarAsync<string?>("SELECT status FROM jobs WHERE id = @id", ("id", jobId));
            if (status is JobStatuses.Succeeded)
            {
                return await environment.ScalarAsync<double>(
                    "SELECT extract(epoch FROM max(occurred_at) FILTER (WHERE type = 'completed') - min(occurred_at) FILTER (WHERE type = 'requested'))::float8 " +
                    "FROM job_events WHERE job_id = @id", ("id", jobId));
            }

            if (status is JobStatuses.Failed or JobStatuses.Cancelled)
            {
                Progress.Line($"long-jobs: job {jobId} ended {status}");
                return null;
            }

            await Task.Delay(250);
        }

        return null;
    }

    private static async Task GenerateSourceAsync(string path, int seconds)
    {
        if (File.Exists(path))
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
                 {
                     "-nostdin", "-hide_banner", "-loglevel", "error",
                     "-f", "lavfi", "-i", $"testsrc=size=320x240:rate=25:duration={seconds}",
                     "-f", "lavfi", "-i", $"sine=frequency=440:duration={seconds}",
                     "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-y", path,
                 })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException("ffmpeg could not make the long-jobs source: " + errors);
        }
    }
}
