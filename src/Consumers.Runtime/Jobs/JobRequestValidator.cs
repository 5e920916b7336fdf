using Consumers.Contracts;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Stages;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// Checks a delivered request field by field. A failure is <c>INVALID_REQUEST</c> naming the field, which ends
/// the job at once: no retry can fix a bad request.
/// </summary>
public static class JobRequestValidator
{
    public static void Validate(JobRequested request, StageRegistry stages)
    {
        if (FindUnstorable(request) is { } unstorable)
        {
            throw unstorable;
        }

        Require(request.SchemaVersion is >= 1 and <= 1, "schemaVersion", $"{request.SchemaVersion} is not a supported version (1)");
        Require(!string.IsNullOrWhiteSpace(request.Stage), "stage", "is empty");
        Require(request.Stage.Length <= JobRequestLimits.Stage, "stage", $"is longer than {JobRequestLimits.Stage} characters");
        Require(stages.TryGet(request.Stage, out var stage), "stage",
            $"'{request.Stage}' is not a stage this worker runs ({string.Join(", ", stages.Names.Order(StringComparer.Ordinal))})");
        Require(!string.IsNullOrWhiteSpace(request.OutputKey), "outputKey", "is empty");
        Require(request.OutputKey.Length <= JobRequestLimits.OutputKey, "outputKey", $"is longer than {JobRequestLimits.OutputKey} characters");
        PathConfinement.CheckKeyShape(request.OutputKey, "outputKey");
        Require((request.Source ?? "").Length <= JobRequestLimits.Source, "source", $"is longer than {JobRequestLimits.Source} characters");
        Require(!stage.NeedsSource || !string.IsNullOrWhiteSpace(request.Source), "source", "is empty");
        Require(request.ClipDurationSeconds is null || (double.IsFinite(request.ClipDurationSeconds.Value) && request.ClipDurationSeconds >= 0),
            "clipDurationSeconds", "must be a finite number of seconds, zero or more");
        Require(request.MaxAttempts is null or (>= 1 and <= JobRequestLimits.MaxAttempts), "maxAttempts", $"must be between 1 and {JobRequestLimits.MaxAttempts}");
        Require(request.Priority is >= JobPriority.Lowest and <= JobPriority.Highest, "priority",
            $"{request.Priority} is not between {JobPriority.Lowest} and {JobPriority.Highest}");
        if (request.Parameters is { } parameters)
        {
            Require(parameters.Count <= JobRequestLimits.Parameters, "parameters", $"has more than {JobRequestLimits.Parameters} entries");
            foreach (var (key, value) in parameters)
            {
                Require(key.Length <= JobRequestLimits.ParameterLength && (value ?? "").Length <= JobRequestLimits.ParameterLength,
                    "parameters", $"entry '{Short(key)}' is longer than {JobRequestLimits.ParameterLength} characters");
            }
        }
    }

    /// <summary>
    /// The first field holding text the database cannot store (a NUL, a lone surrogate), as the
    /// <c>INVALID_REQUEST</c> it becomes; null when every field can be stored. Checked before the request reaches
    /// SQL, since the row it would be written to cannot hold it.
    /// </summary>
    public static JobFailureException? FindUnstorable(JobRequested request)
    {
        if ((Unstorable("stage", request.Stage) ?? Unstorable("source", request.Source) ?? Unstorable("outputKey", request.OutputKey)) is { } field)
        {
            return field;
        }

        foreach (var (key, value) in request.Parameters ?? new Dictionary<string, string>())
        {
            if (StorableText.Problem(key) is { } keyProblem)
            {
                return Invalid("parameters", $"has a name that {keyProblem}");
            }

            if (Unstorable("parameters." + Short(key), value) is { } valueField)
            {
                return valueField;
            }
        }

        return null;
    }

    private static JobFailureException? Unstorable(string field, string? value) =>
        StorableText.Problem(value) is { } problem ? Invalid(field, problem) : null;

    private static JobFailureException Invalid(string field, string problem) =>
        new(ErrorCodes.InvalidRequest, $"{field} {problem}") { Field = field };

    private static void Require(bool condition, string field, string problem)
    {
        if (!condition)
        {
            throw Invalid(field, problem);
        }
    }

    private static string Short(string value) => value.Length <= 40 ? value : StorableText.Truncate(value, 40) + "...";
}
