using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using Consumers.Contracts;
using Consumers.Runtime.Failures;

namespace Consumers.Runtime.Messaging;

/// <summary>
/// Reads a request message after checking its fields' JSON types. A body whose id is usable but whose other fields do
/// not fit is read as far as it fits and remembered as malformed, so its consumer fails it with <c>INVALID_REQUEST</c>
/// naming the field; a body with no usable id fails to deserialize with a reason a person can act on, and MassTransit
/// moves it to the error queue.
/// </summary>
internal abstract class ShapeCheckedJsonConverter<TRequest> : JsonConverter<TRequest>
    where TRequest : class
{
    // Requests are immutable records; the problem travels beside the instance, not inside the contract.
    private static readonly ConditionalWeakTable<TRequest, JobFailureException> Problems = new();

    private JsonSerializerOptions? plain;

    /// <summary>What the id names in the error queue's reason: "a job", "a pipeline".</summary>
    protected abstract string Subject { get; }

    /// <summary>Null when every field has its JSON type; otherwise what fits (null without a usable id), the field and why.</summary>
    protected abstract (TRequest? Partial, string? Field, string Problem)? Inspect(JsonElement root);

    /// <summary>The <c>INVALID_REQUEST</c> failure of a request that was read from a malformed body, or null.</summary>
    protected static JobFailureException? ProblemFor(TRequest request) => Problems.TryGetValue(request, out var problem) ? problem : null;

    public override TRequest Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        if (Inspect(document.RootElement) is not { } shape)
        {
            return document.RootElement.Deserialize<TRequest>(Plain(options))!;
        }

        if (shape.Partial is null)
        {
            throw new JsonException($"{ErrorCodes.InvalidRequest}: {shape.Problem}; the message cannot be tied to {Subject}");
        }

        Problems.AddOrUpdate(shape.Partial, new JobFailureException(ErrorCodes.InvalidRequest, shape.Problem) { Field = shape.Field });
        return shape.Partial;
    }

    public override void Write(Utf8JsonWriter writer, TRequest value, JsonSerializerOptions options) =>
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
