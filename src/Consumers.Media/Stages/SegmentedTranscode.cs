using System.Globalization;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.Media.Ffmpeg;
using Consumers.Runtime;
using Consumers.Runtime.Checkpoints;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Stages;

namespace Consumers.Media.Stages;

/// <summary>
/// One transcode in checkpointed pieces. The audio is encoded once, whole (AAC priming and frame boundaries then
/// match a one-pass encode, so it cannot drift against the video), by its own ffmpeg process running alongside the
/// video's; the video in segments of <see cref="SegmentPlan.FramesPerSegment"/> frames, each starting on a keyframe.
/// Every finished piece is kept in the job's work folder and checkpointed with its size and SHA-256. A later
/// attempt reuses the pieces that are whole and decodable and encodes only the rest. The pieces are joined with
/// the concat demuxer, without re-encoding, into the one output the runtime commits.
/// </summary>
/// <remarks>
/// Given a <c>range</c> (a segment job of a fanned-out transcode, <see cref="TranscodeFanOut"/>) it encodes only those
/// segments, into its parent's checkpoint, and neither encodes the audio nor joins.
/// </remarks>
internal sealed class SegmentedTranscode(FfmpegRunner ffmpeg, StageContext context, ProxyEncoding encoding, SegmentPlan plan, SegmentRange? range = null)
{
    private const string AudioName = "audio.m4a";
    private readonly Dictionary<string, CheckpointPart> parts = new(StringComparer.Ordinal);
    private readonly SortedDictionary<int, string> segments = [];
    private string? audio;
    private Task<FfmpegResult>? audioRun;
    private double reported = -1;

    public async Task<StageOutput> RunAsync(CancellationToken cancellationToken)
    {
        await ResumeAsync(cancellationToken);
        await TraceAsync("start", -1, cancellationToken);
        ReportProgress(segments.Count);

        using var stopAudio = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            if (plan.HasAudio && audio is null && range is null)
            {
                // Alongside the video, not before it: the AAC encoder is single-threaded, and alone it left the other
                // core idle for as long as it ran (a one-pass encode overlaps the two the same way).
                await StartAudioAsync(stopAudio.Token);
            }

            var end = range?.End ?? plan.Count;
            for (var first = FirstMissing(range?.First ?? 0); first < end; first = FirstMissing(first))
            {
                await StopIfShuttingDownAsync(cancellationToken);
                await EncodeRunAsync(first, Math.Min(NextKept(first), end), cancellationToken);
            }

            await RecordAudioAsync(wait: true, cancellationToken);
        }
        finally
        {
            // Only on a failure is the audio still running here: it is not left behind as an orphan process.
            await StopAsync(audioRun, stopAudio);
        }

        if (range is not null)
        {
            return StageOutput.RecordedInParent;
        }

        var output = await JoinAsync(cancellationToken);
        // The join wrote one H.264 (+ AAC) fast-start MP4 with stream copy: its box structure read back is the check
        // (no ffprobe at the commit), as for a one-pass proxy. Anything unexpected is left to ValidateAsync.
        return new StageOutput(output) { Validated = Mp4Layout.IsWholeFastStartH264(output) };
    }

    private async Task StartAudioAsync(CancellationToken cancellationToken)
    {
        // Index -1 in the trace is the audio.
        await TraceAsync("encode", -1, cancellationToken);
        audioRun = ffmpeg.EncodeAsync(
            [.. ffmpeg.InputArguments(context.SourcePath), "-map", "0:a:0", "-vn", .. ProxyEncoding.AudioArguments, "-y", AudioFile],
            null, null, cancellationToken);
    }

    private string AudioFile => Path.Combine(context.ScratchDirectory, AudioName);

    /// <summary>Keeps and checkpoints the audio once its ffmpeg has finished (or, with <paramref name="wait"/>, when it has).</summary>
    private async Task RecordAudioAsync(bool wait, CancellationToken cancellationToken)
    {
        if (audioRun is not { } run || (!wait && !run.IsCompleted))
        {
            return;
        }

        var result = await run;
        audioRun = null;
        if (result.ExitCode != 0)
        {
            throw FfmpegFailures.Classify("ffmpeg", result);
        }

        audio = await KeepAsync(AudioFile, AudioName, cancellationToken);
        await SaveAsync(cancellationToken);
        await TraceAsync("recorded", -1, cancellationToken);
    }

    // A worker going down stops here, between segments, with everything so far checkpointed. An audio encode still
    // running is waited for (it is one piece: stopping it would throw all of it away); the drain budget bounds the wait.
    private async Task StopIfShuttingDownAsync(CancellationToken cancellationToken)
    {
        if (context.ShutdownRequested.IsCancellationRequested && context.Checkpoint.Enabled)
        {
            await RecordAudioAsync(wait: true, cancellationToken);
            throw new StoppedAtCheckpointException();
        }
    }

    private static async Task StopAsync(Task<FfmpegResult>? run, CancellationTokenSource stop)
    {
        if (run is null || run.IsCompleted)
        {
            return;
        }

        await stop.CancelAsync();
        await run.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    private int FirstMissing(int from)
    {
        while (from < plan.Count && segments.ContainsKey(from))
        {
            from++;
        }

        return from;
    }

    private int NextKept(int from)
    {
        while (from < plan.Count && !segments.ContainsKey(from))
        {
            from++;
        }

        return from;
    }

    /// <summary>
    /// Encodes segments [<paramref name="first"/>, <paramref name="end"/>) in one ffmpeg run: one decoder and one encoder
    /// for the whole run (no per-segment start-up, no seek per segment), keyframes forced on every segment's first frame,
    /// and the segment muxer closing a file at each of them. Each file it closes (listed in its segment list) is kept and
    /// checkpointed while the run goes on. On shutdown the run is stopped right after the next checkpoint.
    /// </summary>
    private async Task EncodeRunAsync(int first, int end, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(context.ScratchDirectory, string.Create(CultureInfo.InvariantCulture, $"run-{first:D5}"));
        Directory.CreateDirectory(folder);
        var list = Path.Combine(folder, "segments.csv");
        var perSegment = plan.FramesPerSegment.ToString(CultureInfo.InvariantCulture);
        var cuts = string.Join(',', Enumerable.Range(1, end - first - 1).Select(i => ((long)i * plan.FramesPerSegment).ToString(CultureInfo.InvariantCulture)));
        List<string> args =
        [
            .. plan.SeekArguments(first), .. ffmpeg.InputArguments(context.SourcePath),
            "-map", "0:v:0", "-an", "-sn", "-dn",
            .. end < plan.Count ? ["-frames:v", ((long)(end - first) * plan.FramesPerSegment).ToString(CultureInfo.InvariantCulture)] : Array.Empty<string>(),
            // The clock starts at the run's first frame: the seek's half frame would otherwise be filled with a repeated frame.
            .. encoding.VideoArguments.Select(a => a.StartsWith("scale=", StringComparison.Ordinal) ? "setpts=PTS-STARTPTS," + a : a),
            // An IDR frame on every segment's first frame, so each segment decodes on its own.
            "-force_key_frames", $"expr:gte(n,n_forced*{perSegment})", "-forced-idr", "1",
            // Left as the encoder made them: shifting the B-frame delay of a run's first segment would open a gap at the join.
            "-avoid_negative_ts", "disabled",
            "-f", "segment", .. cuts.Length > 0 ? ["-segment_frames", cuts] : Array.Empty<string>(),
            "-segment_start_number", first.ToString(CultureInfo.InvariantCulture), "-reset_timestamps", "1",
            "-segment_format", "mp4", "-segment_format_options", "video_track_timescale=90000",
            "-segment_list", list, "-segment_list_type", "csv", "-y", Path.Combine(folder, "seg-%05d.mp4"),
        ];
        var runSeconds = plan.Timing.SecondsAt((double)(end - first) * plan.FramesPerSegment);
        using var stopRun = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var run = ffmpeg.EncodeAsync(args, runSeconds,
            new Progress<double>(p => ReportProgress(first, p / 100 * (end - first))), stopRun.Token);
        await TraceAsync("encode", first, cancellationToken);
        var taken = 0;
        try
        {
            while (true)
            {
                var exited = run.IsCompleted;
                await RecordAudioAsync(wait: false, cancellationToken);
                foreach (var file in ClosedSegments(list).Skip(taken))
                {
                    var index = first + taken++;
                    segments[index] = await KeepAsync(Path.Combine(folder, file), SegmentPlan.SegmentName(index), cancellationToken);
                    await SaveAsync(cancellationToken);
                    await TraceAsync("recorded", index, cancellationToken);
                    ReportProgress(segments.Count);
                    if (index + 1 < end && context.ShutdownRequested.IsCancellationRequested && context.Checkpoint.Enabled)
                    {
                        // Stopped at a boundary: what ffmpeg began of the next segment is the only work lost.
                        await StopAsync(run, stopRun);
                        await StopIfShuttingDownAsync(cancellationToken);
                    }

                    if (index + 1 < end)
                    {
                        await TraceAsync("encode", index + 1, cancellationToken);
                    }
                }

                if (exited)
                {
                    break;
                }

                await Task.WhenAny(run, Task.Delay(200, cancellationToken));
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            // A failed checkpoint (a lost lease) or a cancellation leaves no encoder running.
            await StopAsync(run, stopRun);
        }

        var result = await run;
        if (result.ExitCode != 0)
        {
            throw FfmpegFailures.Classify("ffmpeg", result);
        }

        if (first + taken != end)
        {
            throw new JobFailureException(ErrorCodes.Internal,
                string.Create(CultureInfo.InvariantCulture, $"ffmpeg closed {taken} segment(s) where {end - first} were planned from segment {first}"));
        }
    }

    // The segment muxer adds a line to its list when it has closed a file; a line still being written has no newline yet.
    private static IEnumerable<string> ClosedSegments(string list)
    {
        if (!File.Exists(list))
        {
            return [];
        }

        var lines = File.ReadAllText(list).Split('\n');
        return lines[..^1].Where(l => l.Length > 0).Select(l => l.Split(',')[0]);
    }

    private async Task ResumeAsync(CancellationToken cancellationToken)
    {
        if (await context.Checkpoint.LoadAsync(cancellationToken) is not { } saved)
        {
            return;
        }

        var state = saved.State.Deserialize<TranscodeState>(ContractJson.Options);
        if (state is null || state.Plan != plan.Identity)
        {
            // Another source, other parameters or another cut: nothing of it fits.
            return;
        }

        if (range is null && state.Audio is { } audioPart && saved.Parts.TryGetValue(audioPart, out var audioRecord) && await DecodesAsync(audioRecord, cancellationToken))
        {
            parts[audioPart] = audioRecord;
            audio = audioPart;
        }

        foreach (var (index, name) in state.Segments)
        {
            if (index >= (range?.First ?? 0) && index < (range?.End ?? plan.Count) && saved.Parts.TryGetValue(name, out var record) && await DecodesAsync(record, cancellationToken))
            {
                parts[name] = record;
                segments[index] = name;
            }
        }
    }

    private async Task<bool> DecodesAsync(CheckpointPart part, CancellationToken cancellationToken)
    {
        var result = await ffmpeg.EncodeAsync(
            ["-xerror", "-protocol_whitelist", "file", "-i", "file:" + context.Checkpoint.PathOf(part), "-f", "null", "-"], null, null, cancellationToken);
        return result.ExitCode == 0 && string.IsNullOrWhiteSpace(result.Errors);
    }

    private async Task<string> KeepAsync(string file, string name, CancellationToken cancellationToken)
    {
        if (!context.Checkpoint.Enabled)
        {
            // Outside a worker (no checkpoints) the pieces stay in scratch.
            return file;
        }

        var part = await context.Checkpoint.KeepPartAsync(file, name, cancellationToken);
        parts[part.Name] = part;
        return part.Name;
    }

    private string PathOf(string piece) =>
        context.Checkpoint.Enabled ? context.Checkpoint.PathOf(parts[piece]) : piece;

    private Task SaveAsync(CancellationToken cancellationToken) =>
        context.Checkpoint.SaveAsync(new TranscodeState(plan.Identity, audio, new Dictionary<int, string>(segments)), [.. parts.Values], cancellationToken);

    private async Task<string> JoinAsync(CancellationToken cancellationToken)
    {
        var list = Path.Combine(context.ScratchDirectory, "segments.txt");
        await File.WriteAllLinesAsync(list, segments.Values.Select(s => "file '" + PathOf(s).Replace("'", "'\\''", StringComparison.Ordinal) + "'"),
            cancellationToken);
        var output = Path.Combine(context.ScratchDirectory, "proxy.mp4");
        List<string> args =
        [
            "-protocol_whitelist", "file", "-f", "concat", "-safe", "0", "-i", "file:" + list,
        ];
        if (audio is not null)
        {
            args.AddRange(["-protocol_whitelist", "file", "-i", "file:" + PathOf(audio), "-map", "0:v:0", "-map", "1:a:0"]);
        }
        else
        {
            args.AddRange(["-map", "0:v:0"]);
        }

        args.AddRange(["-c", "copy", "-movflags", "+faststart", "-y", output]);
        await TraceAsync("join", -1, cancellationToken);
        await EncodeAsync(args, null, cancellationToken);
        await TraceAsync("joined", -1, cancellationToken);
        return output;
    }

    private async Task EncodeAsync(IEnumerable<string> arguments, IProgress<double>? progress, CancellationToken cancellationToken)
    {
        var result = await ffmpeg.EncodeAsync(arguments, progress is null ? null : plan.Timing.SecondsAt(plan.FramesPerSegment), progress, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw FfmpegFailures.Classify("ffmpeg", result);
        }
    }

    // Progress counts segments done, and moves within the run being encoded; it never goes back within the attempt.
    private void ReportProgress(int done, double segmentsOfRun = 0)
    {
        var percent = Math.Min(99, 100.0 * (done + Math.Max(0, segmentsOfRun)) / (range is null ? plan.Count : range.End - range.First) * 0.99);
        if (percent > reported)
        {
            reported = percent;
            context.Progress.Report(percent);
        }
    }

    private async Task TraceAsync(string step, int index, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(ffmpeg.Options.SegmentTraceDirectory))
        {
            return;
        }

        Directory.CreateDirectory(ffmpeg.Options.SegmentTraceDirectory);
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{step} attempt={context.Attempt} index={index} count={plan.Count} at={DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}\n");
        await File.AppendAllTextAsync(Path.Combine(ffmpeg.Options.SegmentTraceDirectory, context.JobId.ToString("D") + ".segments"), line, cancellationToken);
        if (context.Attempt == 1 && ffmpeg.Options.HoldsAt(step, index))
        {
            // The crash tests kill or freeze the worker here, at a known step rather than racing an encode that may
            // finish first; a deploy test's shutdown ends the wait and the attempt stops at its next boundary.
            using var hold = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, context.ShutdownRequested);
            await Task.Delay(ffmpeg.Options.SegmentTraceHoldFor, hold.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>What the checkpoint records: the plan it belongs to, the audio part and the segment parts by index.</summary>
    private sealed record TranscodeState(string Plan, string? Audio, Dictionary<int, string> Segments);
}
