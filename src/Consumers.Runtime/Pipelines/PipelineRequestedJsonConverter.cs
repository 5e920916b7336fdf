using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using Consumers.Contracts;
using Consumers.Runtime.Failures;

namespace Consumers.Runtime.Pipelines;

/// <summary>
/// Reads a <see cref="PipelineRequested"/> after checking its fields' JSON types (<see cref="PipelineRequestShape"/>).
/// A body with a usable pipeline id but a field of the wrong type is read as its id and source and remembered as
/// malformed, so the consumer records the pipeline failed with <c>INVALID_REQUEST</c> naming the field; a body with no
/// usable id fails to deserialize with a reason a person can act on, and MassTransit moves it to the error queue.
/// </summary>
internal sealed class PipelineRequestedJsonConverter : JsonConverter<PipelineRequested>
{
    // Requests are immutable records; the problem travels beside the instance, not inside the contract.
    private static readonly ConditionalWeakTable<PipelineRequested, JobFailureException> Problems = new();

    private JsonSerializerOptions? plain;

    /// <summary>The <c>INVALID_REQUEST</c> failure of a request that was read from a malformed body, or null.</summary>
    public static JobFailureException? ProblemOf(PipelineRequested request) => Problems.TryGetValue(request, out var problem) ? problem : null;

    public override PipelineRequested Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        var shape = PipelineRequestShape.Inspect(document.RootElement);
        if (shape is null)
        {
            return document.RootElement.Deserialize<PipelineRequested>(Plain(options))!;
        }

        if (shape.Partial is null)
        {
            throw new JsonException($"{ErrorCodes.InvalidRequest}: {shape.Problem}; the message cannot be tied to a pipeline");
        }

        Problems.AddOrUpdate(shape.Partial, new JobFailureException(ErrorCodes.InvalidRequest, shape.Problem) { Field = shape.Field });
        return shape.Partial;
    }

    public override void Write(Utf8JsonWriter writer, PipelineRequested value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value, Plain(options));

    /// <summary>The caller's options without this converter, so the contract itself is read and written the usual way.</summary>
    private JsonSerializerOptions Plain(JsonSerializerOptions options)
    {
        if (plain is null)
        {
            var copy = new JsonSerializerOptions(options);
            copy.Converters.Remove(this);
            plain = copy;
        }

        return plain;
    }
}
