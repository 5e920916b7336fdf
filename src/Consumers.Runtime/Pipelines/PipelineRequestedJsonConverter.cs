using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Messaging;

namespace Consumers.Runtime.Pipelines;

/// <summary>
/// Reads a <see cref="PipelineRequested"/> after checking its fields' JSON types (<see cref="PipelineRequestShape"/>): a
/// malformed body with a readable pipeline id is read as its id and source, and the consumer records the pipeline failed.
/// </summary>
internal sealed class PipelineRequestedJsonConverter : ShapeCheckedJsonConverter<PipelineRequested>
{
    protected override string Subject => "a pipeline";

    /// <summary>The <c>INVALID_REQUEST</c> failure of a request that was read from a malformed body, or null.</summary>
    public static JobFailureException? ProblemOf(PipelineRequested request) => ProblemFor(request);

    protected override (PipelineRequested? Partial, string? Field, string Problem)? Inspect(JsonElement root) =>
        PipelineRequestShape.Inspect(root) is { } shape ? (shape.Partial, shape.Field, shape.Problem) : null;
}
