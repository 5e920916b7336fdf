using Consumers.Contracts;
using Consumers.Runtime.Checkpoints;

namespace Consumers.Runtime.Stages;

/// <summary>Everything a stage gets for one attempt.</summary>
/// <param name="SourcePath">The resolved, confined source file; empty for stages that need none.</param>
/// <param name="ScratchDirectory">A folder of this attempt's own; kept on failure for inspection.</param>
/// <param name="Progress">Report 0..100; the runtime throttles what reaches the timeline.</param>
public sealed record StageContext(
    Guid JobId,
    int Attempt,
    JobRequested Request,
    string SourcePath,
    string ScratchDirectory,
    IProgress<double> Progress)
{
    /// <summary>Durable, fenced progress that the next attempt of this job receives (see docs/stages.md).</summary>
    public StageCheckpoint Checkpoint { get; init; } = StageCheckpoint.None;

    /// <summary>
    /// Fires when the worker begins to shut down. A stage that checkpoints may stop at its next checkpoint and throw
    /// <see cref="StoppedAtCheckpointException"/>: the job is requeued at once, uncharged, and resumes elsewhere. A
    /// stage that ignores it is stopped through its cancellation token when the drain time is up.
    /// </summary>
    public CancellationToken ShutdownRequested { get; init; }

    public string? Parameter(string name) =>
        Request.Parameters is not null && Request.Parameters.TryGetValue(name, out var value) ? value : null;
}
