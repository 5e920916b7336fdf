using System.Globalization;

namespace Consumers.Media;

/// <summary>Settings under <c>Consumers:Media</c>.</summary>
public sealed class MediaOptions : Runtime.Settings.IValidatedSettings
{
    public const string Section = "Consumers:Media";

    /// <summary>Longest allowed segment, in seconds of source.</summary>
    public const double MaxSegmentSeconds = 3600;

    /// <summary>The most segment jobs one transcode may fan out to (<c>parallel</c>).</summary>
    public const int MaxParallel = 32;

    /// <summary>The ffmpeg executable (Debian's, from PATH, by default).</summary>
    public string FfmpegPath { get; set; } = "ffmpeg";

    /// <summary>The ffprobe executable.</summary>
    public string FfprobePath { get; set; } = "ffprobe";

    /// <summary>
    /// Container formats ffmpeg may open. Playlists and concat lists (hls, concat) are left out on purpose: they
    /// make ffmpeg read other files, which a crafted source could point anywhere.
    /// </summary>
    public string AllowedFormats { get; set; } = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,wav,mp3,flac,ogg,mpegts,mpeg,aac,image2,png_pipe,jpeg_pipe";

    /// <summary>
    /// The transcode encodes its video in segments of this many seconds of source, each starting on a keyframe,
    /// and checkpoints every finished one: a crash or a deploy costs at most one segment. 0 turns segmenting off
    /// (one ffmpeg pass, nothing kept across attempts). From 1 to 3600, or 0.
    /// </summary>
    public double SegmentSeconds { get; set; } = 10;

    /// <summary>
    /// Sources shorter than this many seconds are encoded in one pass even with <see cref="SegmentSeconds"/> set: a
    /// crash costs them little, and one pass is cheaper than cutting, checkpointing and joining. 0 segments every source.
    /// </summary>
    public double SegmentFromSeconds { get; set; } = 60;

    /// <summary>
    /// The transcode's <c>parallel</c> when a job gives none: with 2 or more, a segmented transcode hands its segments to
    /// that many segment jobs (contiguous ranges, each a job of its own that any worker may run) and waits for them without
    /// holding a slot, then joins them. 1 (the default) encodes every segment in the job's own attempt. From 1 to 32.
    /// </summary>
    public int TranscodeParallel { get; set; } = 1;

    /// <summary>
    /// Test aid: when set, the transcode appends a line to <c>&lt;folder&gt;/&lt;jobId&gt;.segments</c> when it starts
    /// and when it records each segment, so tests count what was encoded again after a crash. Off (empty) in production.
    /// </summary>
    public string? SegmentTraceDirectory { get; set; }

    /// <summary>
    /// Test aid, with <see cref="SegmentTraceDirectory"/>: a trace step (<c>join</c>, <c>joined</c>) or a step and piece
    /// (<c>recorded 3</c>, <c>encode 0</c>) at which a job's first attempt waits, for
    /// <see cref="SegmentTraceHoldFor"/>, right after writing that line, so a crash test kills it at that step. A shutdown
    /// ends the wait early (the attempt goes on to its next boundary), so a deploy test can stop it at that step too.
    /// </summary>
    public string? SegmentTraceHold { get; set; }

    /// <summary>Test aid: how long a first attempt waits at <see cref="SegmentTraceHold"/>.</summary>
    public TimeSpan SegmentTraceHoldFor { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>True when <see cref="SegmentTraceHold"/> names this trace line.</summary>
    public bool HoldsAt(string step, int index)
    {
        if (string.IsNullOrWhiteSpace(SegmentTraceHold))
        {
            return false;
        }

        var words = SegmentTraceHold.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words[0] == step && (words.Length == 1 || words[1] == index.ToString(CultureInfo.InvariantCulture));
    }

    /// <inheritdoc />
    public IReadOnlyList<string> Problems() => new Runtime.Settings.SettingsRules(Section)
        .Require(!string.IsNullOrWhiteSpace(FfmpegPath), nameof(FfmpegPath), "must name an executable")
        .Require(!string.IsNullOrWhiteSpace(FfprobePath), nameof(FfprobePath), "must name an executable")
        .Require(SegmentSeconds == 0 || (SegmentSeconds >= 1 && SegmentSeconds <= MaxSegmentSeconds), nameof(SegmentSeconds),
            $"must be 0 (off) or from 1 to {MaxSegmentSeconds} (is {SegmentSeconds})")
        .Require(TranscodeParallel >= 1 && TranscodeParallel <= MaxParallel, nameof(TranscodeParallel), $"must be from 1 to {MaxParallel} (is {TranscodeParallel})")
        .Require(string.IsNullOrWhiteSpace(SegmentTraceHold) || (!string.IsNullOrWhiteSpace(SegmentTraceDirectory) && IsTraceStep(SegmentTraceHold)),
            nameof(SegmentTraceHold), $"must be a trace step, optionally with a piece index (\"join\", \"recorded 3\"), and needs {nameof(SegmentTraceDirectory)} (is \"{SegmentTraceHold}\")")
        .Require(SegmentTraceHoldFor > TimeSpan.Zero && SegmentTraceHoldFor <= TimeSpan.FromMinutes(10), nameof(SegmentTraceHoldFor),
            $"must be more than 0 and at most 10 minutes (is {SegmentTraceHoldFor})")
        .Require(SegmentFromSeconds >= 0 && double.IsFinite(SegmentFromSeconds), nameof(SegmentFromSeconds), $"must be 0 or more (is {SegmentFromSeconds})")
        .Problems;

    private static bool IsTraceStep(string hold)
    {
        var words = hold.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words.Length is 1 or 2 && words[0] is "start" or "encode" or "recorded" or "join" or "joined"
               && (words.Length == 1 || int.TryParse(words[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _));
    }
}
