using System.Globalization;
using System.Text.Json;
using Consumers.Media.Ffmpeg;
using Consumers.Runtime;
using Consumers.Runtime.Checkpoints;
using Consumers.Runtime.Stages;

namespace Consumers.Media.Stages;

/// <summary>
/// One transcode in checkpointed pieces. The audio is encoded once, whole (AAC priming and frame boundaries then
/// match a one-pass encode, so it cannot drift against the video); the video in segments of
/// <see cref="SegmentPlan.FramesPerSegment"/> frames, each from its own ffmpeg run, so each starts on a keyframe.
/// Every finished piece is kept in the job's work folder and checkpointed with its size and SHA-256. A later
/// attempt reuses the pieces that are whole and decodable and encodes only the rest. The pieces are joined with
/// the concat demuxer, without re-encoding, into the one output the runtime commits.
/// </summary>
internal sealed class SegmentedTranscode(FfmpegRunner ffmpeg, StageContext context, ProxyEncoding encoding, SegmentPlan plan)
{
    private const string AudioName = "audio.m4a";
    private readonly Dictionary<string, CheckpointPart> parts = new(StringComparer.Ordinal);
    private readonly SortedDictionary<int, string> segments = [];
    private string? audio;

    public async Task<StageOutput> RunAsync(CancellationToken cancellationToken)
    {
        await ResumeAsync(cancellationToken);
        Trace("start", -1);
        ReportProgress(segments.Count);

        if (plan.HasAudio && audio is null)
        {
            // Index -1 in the trace is the audio.
            Trace("encode", -1);
            var file = Path.Combine(context.ScratchDirectory, AudioName);
            await EncodeAsync([.. ffmpeg.InputArguments(context.SourcePath), "-map", "0:a:0", "-vn", .. ProxyEncoding.AudioArguments, "-y", file],
                null, cancellationToken);
            audio = await KeepAsync(file, AudioName, cancellationToken);
            await SaveAsync(cancellationToken);
            Trace("recorded", -1);
        }

        for (var index = 0; index < plan.Count; index++)
        {
            if (segments.ContainsKey(index))
            {
                continue;
            }

            StopIfShuttingDown();
            Trace("encode", index);
            var file = Path.Combine(context.ScratchDirectory, SegmentPlan.SegmentName(index));
            var segmentIndex = index;
            await EncodeAsync(
            [
                .. plan.SeekArguments(index), .. ffmpeg.InputArguments(context.SourcePath),
                "-map", "0:v:0", "-an", "-sn", "-dn",
                .. plan.LengthArguments(index),
                // Each segment's clock starts at 0; the concat demuxer lays them end to end.
                .. WithStartAtZero(encoding.VideoArguments),
                "-video_track_timescale", "90000", "-y", file,
            ], new Progress<double>(p => ReportProgress(segmentIndex, p / 100)), cancellationToken);
            segments[index] = await KeepAsync(file, SegmentPlan.SegmentName(index), cancellationToken);
            await SaveAsync(cancellationToken);
            Trace("recorded", index);
            ReportProgress(segments.Count);
        }

        return new StageOutput(await JoinAsync(cancellationToken));
    }

    // A worker going down stops here, between segments, with everything so far checkpointed.
    private void StopIfShuttingDown()
    {
        if (context.ShutdownRequested.IsCancellationRequested && context.Checkpoint.Enabled)
        {
            throw new StoppedAtCheckpointException();
        }
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

        if (state.Audio is { } audioPart && saved.Parts.TryGetValue(audioPart, out var audioRecord) && await DecodesAsync(audioRecord, cancellationToken))
        {
            parts[audioPart] = audioRecord;
            audio = audioPart;
        }

        foreach (var (index, name) in state.Segments)
        {
            if (index >= 0 && index < plan.Count && saved.Parts.TryGetValue(name, out var record) && await DecodesAsync(record, cancellationToken))
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
        Trace("join", -1);
        await EncodeAsync(args, null, cancellationToken);
        Trace("joined", -1);
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

    // Progress counts segments done, and moves within the one being encoded.
    private void ReportProgress(int done, double fractionOfNext = 0) =>
        context.Progress.Report(Math.Min(99, 100.0 * (done + Math.Clamp(fractionOfNext, 0, 1)) / plan.Count * 0.99));

    private static IEnumerable<string> WithStartAtZero(IReadOnlyList<string> videoArguments)
    {
        for (var i = 0; i < videoArguments.Count; i++)
        {
            yield return i > 0 && videoArguments[i - 1] == "-vf" ? "setpts=PTS-STARTPTS," + videoArguments[i] : videoArguments[i];
        }
    }

    private void Trace(string step, int index)
    {
        if (string.IsNullOrEmpty(ffmpeg.Options.SegmentTraceDirectory))
        {
            return;
        }

        Directory.CreateDirectory(ffmpeg.Options.SegmentTraceDirectory);
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{step} attempt={context.Attempt} index={index} count={plan.Count} at={DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}\n");
        File.AppendAllText(Path.Combine(ffmpeg.Options.SegmentTraceDirectory, context.JobId.ToString("D") + ".segments"), line);
    }

    /// <summary>What the checkpoint records: the plan it belongs to, the audio part and the segment parts by index.</summary>
    private sealed record TranscodeState(string Plan, string? Audio, Dictionary<int, string> Segments);
}
