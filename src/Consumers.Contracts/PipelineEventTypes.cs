namespace Consumers.Contracts;

/// <summary>The kinds of <see cref="PipelineTimelineEvent"/>, and the statuses of a pipeline and its steps.</summary>
public static class PipelineEventTypes
{
    /// <summary>First event of every pipeline (data: <c>steps</c>, <c>source</c>).</summary>
    public const string PipelineStarted = "pipeline_started";

    /// <summary>Terminal: every step succeeded (<see cref="PipelineTimelineEvent.Artifacts"/> lists them).</summary>
    public const string PipelineCompleted = "pipeline_completed";

    /// <summary>Terminal: the request was invalid or a step failed (data: <c>step</c>, <c>code</c>, <c>message</c>).</summary>
    public const string PipelineFailed = "pipeline_failed";

    /// <summary>Terminal: the pipeline was cancelled as a whole (data: <c>reason</c>, <c>by</c>).</summary>
    public const string PipelineCancelled = "pipeline_cancelled";

    /// <summary>The step's job was created and its request queued (data: <c>stage</c>, <c>clipDurationSeconds</c>, <c>clipFrom</c>).</summary>
    public const string StepDispatched = "step_dispatched";

    public const string StepSucceeded = "step_succeeded";
    public const string StepFailed = "step_failed";
    public const string StepCancelled = "step_cancelled";

    /// <summary>The step never ran: a step it depends on did not succeed (data: <c>cause</c>, <c>reason</c>).</summary>
    public const string StepSkipped = "step_skipped";

    public static IReadOnlyList<string> All { get; } =
        [PipelineStarted, PipelineCompleted, PipelineFailed, PipelineCancelled, StepDispatched, StepSucceeded, StepFailed, StepCancelled, StepSkipped];

    public static bool IsTerminal(string type) => type is PipelineCompleted or PipelineFailed or PipelineCancelled;
}
