using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime.Failures;

namespace Consumers.Runtime.Messaging;

/// <summary>Reads a <see cref="JobRequested"/> after checking its fields' JSON types (<see cref="JobRequestShape"/>).</summary>
internal sealed class JobRequestedJsonConverter : ShapeCheckedJsonConverter<JobRequested>
{
    public override bool HandleNull => true;

    protected override string Subject => "a job";

    /// <summary>The <c>INVALID_REQUEST</c> failure of a request that was read from a malformed body, or null.</summary>
    public static JobFailureException? ProblemOf(JobRequested request) => ProblemFor(request);

    protected override (JobRequested? Partial, string? Field, string Problem)? Inspect(JsonElement root) =>
        JobRequestShape.Inspect(root) is { } shape ? (shape.Partial, shape.Field, shape.Problem) : null;
}
