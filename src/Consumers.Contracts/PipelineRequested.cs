using MassTransit;

namespace Consumers.Contracts;

/// <summary>
/// Asks the runtime to run several stages on one source as one unit: named steps, each a stage with its output key,
/// parameters and the steps it waits for. <c>bus.Publish</c> sends it to the <c>consumers.pipeline-requested</c>
/// exchange (bound by the workers to <c>consumers.pipelines</c>); plain JSON bodies with these property names are
/// accepted too. Sending the same <see cref="PipelineId"/> twice runs the pipeline once. Every step runs as a job of
/// its own; the pipeline's progress is published as <see cref="PipelineTimelineEvent"/>s.
/// </summary>
[EntityName(ContractNames.PipelineRequestedExchange)]
public sealed record PipelineRequested
{
    /// <summary>Version of this contract's shape; readers accept every version up to their own.</summary>
    public int SchemaVersion { get; init; } = 1;

    /// <summary>The pipeline's identity, chosen by the producer: the idempotency key of the whole pipeline.</summary>
    public Guid PipelineId { get; init; }

    /// <summary>Input file of every step, as a path under one of the worker's media roots.</summary>
    public string Source { get; init; } = "";

    /// <summary>The steps, in any order; <see cref="PipelineStep.DependsOn"/> gives the order they run in.</summary>
    public IReadOnlyList<PipelineStep> Steps { get; init; } = [];
}

/// <summary>One step of a <see cref="PipelineRequested"/>: a job of <see cref="Stage"/> that starts when every step it depends on succeeded.</summary>
public sealed record PipelineStep
{
    /// <summary>The step's name, unique in its pipeline (letters, digits, <c>-</c> and <c>_</c>).</summary>
    public string Name { get; init; } = "";

    /// <summary>The stage the step runs: <c>probe</c>, <c>thumbnail</c>, <c>transcode</c>, <c>waveform</c>, ...</summary>
    public string Stage { get; init; } = "";

    /// <summary>Where the step's artifact goes, relative to the artifact root; distinct across the pipeline's steps.</summary>
    public string OutputKey { get; init; } = "";

    /// <summary>Stage parameters as strings (for example <c>height=240</c>).</summary>
    public IReadOnlyDictionary<string, string>? Parameters { get; init; }

    /// <summary>Names of the steps that must succeed before this one starts.</summary>
    public IReadOnlyList<string>? DependsOn { get; init; }

    /// <summary>Duration of the clip when known; otherwise a probe step before this one supplies it.</summary>
    public double? ClipDurationSeconds { get; init; }

    /// <summary>Overrides the configured attempt limit for this step's job.</summary>
    public int? MaxAttempts { get; init; }
}
