using MassTransit;

namespace Consumers.Contracts;

/// <summary>
/// Asks the runtime to run one stage for one job. <c>bus.Publish</c> sends it to the
/// <c>consumers.job-requested</c> exchange (the name is on the type), which the workers bind to the
/// <c>consumers.jobs</c> queue; plain JSON bodies with these property names are accepted as well as
/// MassTransit envelopes. Sending the same <see cref="JobId"/> twice runs the job once.
/// </summary>
[EntityName(ContractNames.JobRequestedExchange)]
public sealed record JobRequested
{
    /// <summary>Version of this contract's shape; readers accept every version up to their own.</summary>
    public int SchemaVersion { get; init; } = 1;

    /// <summary>The job's identity, chosen by the producer. Idempotency key for the whole pipeline.</summary>
    public Guid JobId { get; init; }

    /// <summary>Which stage to run: <c>probe</c>, <c>thumbnail</c>, <c>transcode</c>, <c>waveform</c>, <c>manifest</c> or <c>synthetic</c>.</summary>
    public string Stage { get; init; } = "";

    /// <summary>Input file, as a path under one of the worker's media roots (or a <c>file://</c> URI).</summary>
    public string Source { get; init; } = "";

    /// <summary>Where the artifact goes, relative to the artifact root (for example <c>clips/42/probe.json</c>).</summary>
    public string OutputKey { get; init; } = "";

    /// <summary>Duration of the clip, when the producer knows it; lets leases and deadlines scale with the work.</summary>
    public double? ClipDurationSeconds { get; init; }

    /// <summary>Stage parameters as strings (for example <c>height=240</c>).</summary>
    public IReadOnlyDictionary<string, string>? Parameters { get; init; }

    /// <summary>Overrides the configured attempt limit for this job.</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>
    /// 0 (lowest) to 9 (highest), default 5. With a backlog, a job starts ahead of every lower-priority job still
    /// waiting in its queue (jobs already handed to a worker are not overtaken). Classic queues only: on quorum
    /// queues it is stored and carried but jobs run in arrival order.
    /// </summary>
    public int Priority { get; init; } = JobPriority.Default;
}
