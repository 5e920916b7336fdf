namespace Consumers.Media.Ffmpeg;

/// <summary>How an ffmpeg or ffprobe run ended: exit code, standard output (when captured) and the end of standard error.</summary>
public sealed record FfmpegResult(int ExitCode, string Output, string Errors);
