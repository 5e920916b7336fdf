using Consumers.Contracts;
using Consumers.Runtime.Failures;

namespace Consumers.Media.Ffmpeg;

/// <summary>Turns a failed ffmpeg/ffprobe run into a coded failure, from its exit code and what it printed.</summary>
public static class FfmpegFailures
{
    public static JobFailureException Classify(string tool, FfmpegResult result)
    {
        var errors = result.Errors;
        var code = errors switch
        {
            _ when Has(errors, "No such file or directory") => ErrorCodes.SourceNotFound,
            _ when Has(errors, "Permission denied") => ErrorCodes.SourceUnreadable,
            _ when Has(errors, "not on whitelist") || Has(errors, "Protocol not found") || Has(errors, "Unsupported")
                => ErrorCodes.UnsupportedMedia,
            _ when Has(errors, "Invalid data found") || Has(errors, "moov atom not found") || Has(errors, "could not find codec parameters")
                   || Has(errors, "Invalid argument") || Has(errors, "End of file") || Has(errors, "corrupt") || Has(errors, "Error while decoding")
                => ErrorCodes.CorruptMedia,
            _ when result.ExitCode is 137 or 139 or -9 || Has(errors, "Cannot allocate memory") || Has(errors, "No space left")
                => ErrorCodes.OutOfResources,
            _ => ErrorCodes.Internal,
        };
        var detail = errors.Trim();
        return new JobFailureException(code, $"{tool} exited with {result.ExitCode}: {(detail.Length > 500 ? detail[^500..] : detail)}");
    }

    private static bool Has(string text, string fragment) => text.Contains(fragment, StringComparison.OrdinalIgnoreCase);
}
