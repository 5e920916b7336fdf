using System.Globalization;
using System.Text.RegularExpressions;
using Consumers.Contracts;
using Consumers.Runtime.Failures;

namespace Consumers.Runtime.Stages;

/// <summary>
/// Reads a stage's string parameters as numbers within a range, refusing anything else as INVALID_REQUEST naming
/// the parameter and the range. Every numeric parameter of every stage goes through here, so none is unbounded.
/// </summary>
public static partial class StageParameters
{
    public static int WholeNumber(StageContext context, string name, int fallback, int min, int max) =>
        context.Parameter(name) is not { } text ? fallback
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max ? value
        : throw Invalid(name, $"must be a whole number from {Format(min)} to {Format(max)}");

    public static double? Number(StageContext context, string name, double min, double max) =>
        context.Parameter(name) is not { } text ? null
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max ? value
        : throw Invalid(name, $"must be a number from {Format(min)} to {Format(max)}");

    public static bool Flag(StageContext context, string name) =>
        context.Parameter(name) is not { } text ? false
        : bool.TryParse(text, out var value) ? value
        : throw Invalid(name, "must be true or false");

    /// <summary>A bit rate as ffmpeg takes it (<c>500k</c>, <c>2M</c>, <c>800000</c>), from <paramref name="minBitsPerSecond"/> to <paramref name="maxBitsPerSecond"/>.</summary>
    public static string Bitrate(StageContext context, string name, string fallback, long minBitsPerSecond, long maxBitsPerSecond)
    {
        if (context.Parameter(name) is not { } text)
        {
            return fallback;
        }

        var match = BitrateShape().Match(text);
        var bits = match.Success
            ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) * (match.Groups[2].Value switch { "k" => 1_000L, "M" => 1_000_000L, _ => 1L })
            : -1;
        return bits >= minBitsPerSecond && bits <= maxBitsPerSecond
            ? text
            : throw Invalid(name, $"must look like 500k or 2M, from {Format(minBitsPerSecond)} to {Format(maxBitsPerSecond)} bits per second");
    }

    [GeneratedRegex("^([0-9]{1,9})([kM]?)$")]
    private static partial Regex BitrateShape();

    private static string Format(double value) => value.ToString("#,0.###", CultureInfo.InvariantCulture);

    private static JobFailureException Invalid(string name, string problem) =>
        new(ErrorCodes.InvalidRequest, $"parameters.{name} {problem}") { Field = "parameters." + name };
}
