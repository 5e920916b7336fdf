namespace Consumers.Runtime.Stages;

/// <summary>Settings under <c>Consumers:Synthetic</c>: test and benchmark aids of the synthetic stage.</summary>
public sealed class SyntheticOptions
{
    public const string Section = "Consumers:Synthetic";

    /// <summary>
    /// When set, every synthetic attempt appends a <c>start</c> line when its work begins and an <c>end</c> line
    /// when it stops (completed, failed or cancelled), with the wall-clock time in Unix milliseconds, to
    /// <c>&lt;TraceDirectory&gt;/&lt;jobId&gt;.trace</c>: fault tests measure from it whether two attempts of a job
    /// ever worked at the same time. Off (empty) in production.
    /// </summary>
    public string? TraceDirectory { get; set; }
}
