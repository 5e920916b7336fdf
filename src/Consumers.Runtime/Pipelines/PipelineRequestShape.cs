using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime.Messaging;

namespace Consumers.Runtime.Pipelines;

/// <summary>
/// Checks the JSON types of a pipeline request's fields (and of each step's) before it is read as a
/// <see cref="PipelineRequested"/>, so that <c>"steps": "probe"</c> or <c>"dependsOn": 3</c> fails the pipeline with
/// <c>INVALID_REQUEST</c> naming the field, like any other invalid pipeline, instead of becoming a dead letter.
/// </summary>
public static class PipelineRequestShape
{
    private enum Expected { Integer, Number, Text, TextMap, TextList }

    private static readonly (string Name, Expected Kind)[] RootFields =
    [
        ("schemaVersion", Expected.Integer),
        ("source", Expected.Text),
    ];

    private static readonly (string Name, Expected Kind)[] StepFields =
    [
        ("name", Expected.Text),
        ("stage", Expected.Text),
        ("outputKey", Expected.Text),
        ("parameters", Expected.TextMap),
        ("dependsOn", Expected.TextList),
        ("clipDurationSeconds", Expected.Number),
        ("maxAttempts", Expected.Integer),
    ];

    /// <summary>
    /// The first field of <paramref name="root"/> whose JSON type does not fit the contract, or null when all fit.
    /// <see cref="PipelineShapeProblem.Partial"/> carries the pipeline id (and source) when the id itself is readable.
    /// </summary>
    public static PipelineShapeProblem? Inspect(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return new PipelineShapeProblem(null, null, $"the body is JSON {JobRequestShape.Describe(root.ValueKind)}, not an object with a pipelineId");
        }

        var hasId = JobRequestShape.TryGet(root, "pipelineId", out var idValue);
        if (hasId && idValue.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            return new PipelineShapeProblem(null, "pipelineId", $"pipelineId must be a UUID string, not JSON {JobRequestShape.Describe(idValue.ValueKind)}");
        }

        var problem = FirstProblem(root);
        if (problem is null)
        {
            // A missing or empty id with fields that fit is the validator's business (and the consumer's).
            return null;
        }

        if (!hasId || idValue.ValueKind != JsonValueKind.String || !Guid.TryParse(idValue.GetString(), out var id) || id == Guid.Empty)
        {
            return new PipelineShapeProblem(null, problem.Value.Field, $"{problem.Value.Problem}, and pipelineId is missing or not a UUID");
        }

        var partial = new PipelineRequested
        {
            PipelineId = id,
            Source = JobRequestShape.TryGet(root, "source", out var source) && source.ValueKind == JsonValueKind.String ? source.GetString() ?? "" : "",
        };
        return new PipelineShapeProblem(partial, problem.Value.Field, problem.Value.Problem);
    }

    private static (string Field, string Problem)? FirstProblem(JsonElement root)
    {
        foreach (var (name, kind) in RootFields)
        {
            if (Misfit(root, name, kind, name) is { } problem)
            {
                return problem;
            }
        }

        if (!JobRequestShape.TryGet(root, "steps", out var steps) || steps.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (steps.ValueKind != JsonValueKind.Array)
        {
            return ("steps", $"steps must be an array of step objects, not JSON {JobRequestShape.Describe(steps.ValueKind)}");
        }

        var index = 0;
        foreach (var step in steps.EnumerateArray())
        {
            var at = $"steps[{index++}]";
            if (step.ValueKind != JsonValueKind.Object)
            {
                return (at, $"{at} must be a step object, not JSON {JobRequestShape.Describe(step.ValueKind)}");
            }

            // Named as the validator names a step's fields (steps.<name>.<field>) when the step has a usable name.
            if (JobRequestShape.TryGet(step, "name", out var stepName) && stepName.ValueKind == JsonValueKind.String
                && stepName.GetString() is { Length: > 0 and <= 64 } named && named.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                at = "steps." + named;
            }

            foreach (var (name, kind) in StepFields)
            {
                if (Misfit(step, name, kind, at + "." + name) is { } problem)
                {
                    return problem;
                }
            }
        }

        return null;
    }

    private static (string Field, string Problem)? Misfit(JsonElement owner, string name, Expected kind, string field) =>
        !JobRequestShape.TryGet(owner, name, out var value) || value.ValueKind == JsonValueKind.Null || Fits(value, kind)
            ? null
            : (field, $"{field} must be {Describe(kind)}, not JSON {JobRequestShape.Describe(value.ValueKind)}");

    private static bool Fits(JsonElement value, Expected kind) => kind switch
    {
        Expected.Integer => value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out _),
        Expected.Number => value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out _),
        Expected.Text => value.ValueKind == JsonValueKind.String,
        Expected.TextMap => value.ValueKind == JsonValueKind.Object
                            && value.EnumerateObject().All(p => p.Value.ValueKind is JsonValueKind.String or JsonValueKind.Null),
        Expected.TextList => value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String),
        _ => false,
    };

    private static string Describe(Expected kind) => kind switch
    {
        Expected.Integer => "a whole number",
        Expected.Number => "a number",
        Expected.Text => "a string",
        Expected.TextMap => "an object whose values are strings",
        Expected.TextList => "an array of step names (strings)",
        _ => kind.ToString(),
    };
}

/// <summary>
/// Why a body is not a readable <see cref="PipelineRequested"/>. <see cref="Partial"/> is null when no pipeline id can
/// be read: nothing can be recorded then, and the message goes to the error queue with <see cref="Problem"/>.
/// </summary>
public sealed record PipelineShapeProblem(PipelineRequested? Partial, string? Field, string Problem);
