using System.Globalization;
using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Stages;

namespace Consumers.Media.Stages;

/// <summary>Reads a stage's string parameters as numbers, refusing bad values as INVALID_REQUEST naming the parameter.</summary>
internal static class StageParameters
{
    public static int Int(StageContext context, string name, int fallback, int min, int max) =>
        context.Parameter(name) is not { } text ? fallback
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max ? value
        : throw Invalid(name, $"must be a whole number from {min} to {max}");

    public static double? Double(StageContext context, string name, double min, double max) =>
        context.Parameter(name) is not { } text ? null
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max ? value
        : throw Invalid(name, $"must be a number from {min} to {max}");

    public static string Bitrate(StageContext context, string name, string fallback) =>
        context.Parameter(name) is not { } text ? fallback
        : System.Text.RegularExpressions.Regex.IsMatch(text, "^[0-9]{1,6}[kM]?$") ? text
        : throw Invalid(name, "must look like 500k or 2M");

    private static JobFailureException Invalid(string name, string problem) =>
        new(ErrorCodes.InvalidRequest, $"parameters.{name} {problem}") { Field = "parameters." + name };
}
