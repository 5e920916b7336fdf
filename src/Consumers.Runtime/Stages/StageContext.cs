using Consumers.Contracts;

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
    public string? Parameter(string name) =>
        Request.Parameters is not null && Request.Parameters.TryGetValue(name, out var value) ? value : null;
}
