namespace Consumers.Runtime.Stages;

/// <summary>
/// One kind of work. A stage reads its source, writes exactly one output file inside its scratch folder and
/// returns it; the runtime validates, checksums and commits that file. Stages never touch the artifact root
/// or the database.
/// </summary>
public interface IStage
{
    /// <summary>The value of <c>JobRequested.Stage</c> that selects this stage.</summary>
    string Name { get; }

    /// <summary>False for stages that make their output from parameters alone (no source file).</summary>
    bool NeedsSource => true;

    Task<StageOutput> RunAsync(StageContext context, CancellationToken cancellationToken);

    /// <summary>
    /// Checks an output (fresh or already in the artifact root) beyond "not empty". Throw
    /// <see cref="Failures.JobFailureException"/> with <c>ARTIFACT_INVALID</c> when it is not usable.
    /// </summary>
    Task ValidateAsync(string path, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// What a valid output says that later steps of a pipeline can use, as a JSON object (for example the probe's
    /// <c>durationSeconds</c>, which sizes the steps after it), or null. Stored with the job when it succeeds.
    /// </summary>
    Task<string?> DescribeResultAsync(string path, CancellationToken cancellationToken) => Task.FromResult<string?>(null);
}
