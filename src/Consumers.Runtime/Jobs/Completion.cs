using System.Diagnostics;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Timeline;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// One attempt's success as <see cref="JobStore.SucceedManyAsync"/> writes it with others: the lease that fences it,
/// the artifact, its events (ending with <c>completed</c> or <c>skipped</c>), the stage's result (JSON or null) and the
/// trace of the work that produced it, which its outbox rows keep.
/// </summary>
public sealed record Completion(JobLease Lease, ArtifactRecord Artifact, IReadOnlyList<TimelineEntry> Events, string? Result, string? TraceParent)
{
    /// <summary>The artifact still to be placed, under the row's lock, before the success is written; null when it is in place.</summary>
    public StagedArtifact? Staged { get; init; }

    /// <summary>A completion whose outbox rows join the current trace.</summary>
    public static Completion Of(JobLease lease, ArtifactRecord artifact, IReadOnlyList<TimelineEntry> events, string? result)
    {
        var trace = Activity.Current;
        return new Completion(lease, artifact, events, result, trace is { IdFormat: ActivityIdFormat.W3C } ? trace.Id : null);
    }
}
