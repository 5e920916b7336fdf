using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Microsoft.Extensions.Options;

namespace Consumers.Media.Ffmpeg;

/// <summary>
/// Runs ffmpeg and ffprobe with argument lists (never a shell). Progress comes from ffmpeg's own
/// <c>-progress pipe:1</c> output; cancellation kills the process and waits for it. If the worker itself is
/// killed, ffmpeg's next progress write hits a closed pipe and it exits (SIGPIPE), so no encoder outlives it
/// for more than a progress period.
/// </summary>
public sealed class FfmpegRunner(IOptions<MediaOptions> options)
{
    private const int ErrorTail = 8 * 1024;

    public MediaOptions Options => options.Value;

    /// <summary>Input arguments that confine what ffmpeg may open: local files only, known containers only.</summary>
    public IEnumerable<string> InputArguments(string path) =>
        ["-protocol_whitelist", "file", "-format_whitelist", options.Value.AllowedFormats, "-i", "file:" + path];

    public Task<FfmpegResult> ProbeAsync(IEnumerable<string> arguments, CancellationToken cancellationToken) =>
        RunAsync(options.Value.FfprobePath, arguments, null, null, captureOutput: true, cancellationToken);

    /// <summary>Runs ffmpeg; reports progress against <paramref name="durationSeconds"/> when known.</summary>
    public Task<FfmpegResult> EncodeAsync(IEnumerable<string> arguments, double? durationSeconds, IProgress<double>? progress, CancellationToken cancellationToken) =>
        RunAsync(options.Value.FfmpegPath, EncodeCommandLine(arguments), durationSeconds, progress, captureOutput: false, cancellationToken);

    /// <summary>Everything <see cref="EncodeAsync"/> passes to ffmpeg: its own options (progress on stdout) and then the stage's.</summary>
    public static IReadOnlyList<string> EncodeCommandLine(IEnumerable<string> arguments) =>
        ["-nostdin", "-hide_banner", "-loglevel", "error", "-progress", "pipe:1", "-stats_period", "0.5", .. arguments];

    private static async Task<FfmpegResult> RunAsync(
        string tool, IEnumerable<string> arguments, double? durationSeconds, IProgress<double>? progress, bool captureOutput, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new JobFailureException(ErrorCodes.DependencyUnavailable, $"{tool} did not start");
        }
        catch (Win32Exception ex)
        {
            throw new JobFailureException(ErrorCodes.DependencyUnavailable, $"{tool} cannot be started: {ex.Message} (is ffmpeg installed?)", ex);
        }

        using (process)
        {
            var errors = new StringBuilder();
            var output = new StringBuilder();
            var stderr = Task.Run(async () =>
            {
                var buffer = new char[4096];
                int read;
                while ((read = await process.StandardError.ReadAsync(buffer, CancellationToken.None)) > 0)
                {
                    errors.Append(buffer, 0, read);
                    if (errors.Length > ErrorTail * 2)
                    {
                        errors.Remove(0, errors.Length - ErrorTail);
                    }
                }
            }, CancellationToken.None);
            var stdout = Task.Run(async () =>
            {
                string? line;
                while ((line = await process.StandardOutput.ReadLineAsync(CancellationToken.None)) is not null)
                {
                    if (captureOutput)
                    {
                        output.AppendLine(line);
                    }
                    else if (progress is not null && durationSeconds is > 0 && line.StartsWith("out_time_us=", StringComparison.Ordinal)
                             && long.TryParse(line.AsSpan(12), NumberStyles.Integer, CultureInfo.InvariantCulture, out var micros))
                    {
                        progress.Report(Math.Clamp(micros / 1e6 / durationSeconds.Value * 100, 0, 99.9));
                    }
                }
            }, CancellationToken.None);

            try
            {
                await process.WaitForExitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
                throw;
            }

            await Task.WhenAll(stdout, stderr);
            var tail = errors.Length > ErrorTail ? errors.ToString(errors.Length - ErrorTail, ErrorTail) : errors.ToString();
            return new FfmpegResult(process.ExitCode, output.ToString(), tail);
        }
    }
}
