using System.Text.Json;
using Consumers.Contracts;

namespace Consumers.Runtime.Messaging;

/// <summary>
/// Checks the JSON types of a request's fields before it is read as a <see cref="JobRequested"/>, so that a body
/// with a usable job id but a field of the wrong type becomes a failed job naming the field instead of a dead letter.
/// </summary>
public static class JobRequestShape
{
    private enum Expected { JobId, Integer, Number, Text, TextMap }

    private static readonly (string Name, Expected Kind, bool NullAllowed)[] Fields =
    [
        ("jobId", Expected.JobId, false),
        ("schemaVersion", Expected.Integer, false),
        ("stage", Expected.Text, true),
        ("source", Expected.Text, true),
        ("outputKey", Expected.Text, true),
        ("clipDurationSeconds", Expected.Number, true),
        ("parameters", Expected.TextMap, true),
        ("maxAttempts", Expected.Integer, true),
        ("priority", Expected.Integer, false),
    ];

    /// <summary>
    /// The first field of <paramref name="root"/> (a plain request, or the <c>message</c> of a MassTransit envelope)
    /// whose JSON type does not fit the contract, or null when every field fits.
    /// <see cref="RequestShapeProblem.Partial"/> carries the job id and the text fields that did fit.
    /// </summary>
    public static RequestShapeProblem? Inspect(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return RequestShapeProblem.Unreadable($"the body is JSON {Describe(root.ValueKind)}, not an object with a jobId");
        }

        foreach (var (name, kind, nullAllowed) in Fields)
        {
            if (!TryGet(root, name, out var value) || (nullAllowed && value.ValueKind == JsonValueKind.Null) || Fits(value, kind))
            {
                continue;
            }

            var problem = $"{name} must be {Describe(kind)}, not JSON {Describe(value.ValueKind)}";
            var usableId = TryGet(root, "jobId", out var id) && Fits(id, Expected.JobId) && Guid.Parse(id.GetString()!) != Guid.Empty;
            var partial = usableId
                ? new JobRequested
                {
                    JobId = Guid.Parse(id.GetString()!),
                    Stage = TextOrEmpty(root, "stage"),
                    Source = TextOrEmpty(root, "source"),
                    OutputKey = TextOrEmpty(root, "outputKey"),
                }
                : null;
            return new RequestShapeProblem(partial, name, problem);
        }

        return null;
    }

    private static bool Fits(JsonElement value, Expected kind) => kind switch
    {
        Expected.JobId => value.ValueKind == JsonValueKind.String && Guid.TryParse(value.GetString(), out _),
        Expected.Integer => value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out _),
        Expected.Number => value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out _),
        Expected.Text => value.ValueKind == JsonValueKind.String,
        Expected.TextMap => value.ValueKind == JsonValueKind.Object
                            && value.EnumerateObject().All(p => p.Value.ValueKind is JsonValueKind.String or JsonValueKind.Null),
        _ => false,
    };

    private static string Describe(Expected kind) => kind switch
    {
        Expected.JobId => "a UUID string",
        Expected.Integer => "a whole number",
        Expected.Number => "a number",
        Expected.Text => "a string",
        Expected.TextMap => "an object whose values are strings",
        _ => kind.ToString(),
    };

    internal static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Null => "null",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => kind.ToString().ToLowerInvariant(),
    };

    private static string TextOrEmpty(JsonElement root, string name) =>
        TryGet(root, name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : "";

    // Property names are matched without regard to case, and a repeated name counts by its last value, as MassTransit's reader does.
    internal static bool TryGet(JsonElement root, string name, out JsonElement value)
    {
        var found = false;
        value = default;
        foreach (var property in root.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                found = true;
            }
        }

        return found;
    }
}

/// <summary>
/// Why a body is not a readable <see cref="JobRequested"/>. <see cref="Partial"/> is null when the body names no usable
/// job id: then nothing can be tied to a job and the message goes to the error queue with <see cref="Problem"/>.
/// </summary>
public sealed record RequestShapeProblem(JobRequested? Partial, string? Field, string Problem)
{
    public static RequestShapeProblem Unreadable(string problem) => new(null, null, problem);
}
