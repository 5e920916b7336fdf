using Consumers.Contracts;
using Consumers.Runtime.Timeline;

namespace Consumers.Runtime.Pipelines;

/// <summary>
/// The rules of a pipeline's timeline: sequence numbers from 1 without gaps; <c>pipeline_started</c> first; a step is
/// dispatched at most once and only after each step it depends on succeeded; a step ends (succeeded, failed,
/// cancelled) only after it was dispatched and at most once; a skipped step was never dispatched; exactly one terminal
/// <c>pipeline_*</c> event, last; <c>pipeline_completed</c> only when every step succeeded, with one artifact per step.
/// </summary>
public static class PipelineTimelineChecker
{
    /// <param name="steps">The pipeline's steps (their dependencies), empty for a refused pipeline.</param>
    public static IReadOnlyList<TimelineViolation> Check(Guid pipelineId, IReadOnlyList<PipelineEventRecord> events, IReadOnlyList<PipelineStepRecord> steps)
    {
        var violations = new List<TimelineViolation>();
        void Violation(PipelineEventRecord e, string rule, string detail) => violations.Add(new TimelineViolation(pipelineId, e.Seq, rule, detail));

        var dependsOn = steps.ToDictionary(s => s.Name, s => s.DependsOn, StringComparer.Ordinal);
        var dispatched = new HashSet<string>(StringComparer.Ordinal);
        var ended = new Dictionary<string, string>(StringComparer.Ordinal);
        string? terminal = null;
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (e.Seq != i + 1)
            {
                Violation(e, "gapless-sequence", $"expected seq {i + 1}, found {e.Seq}");
            }

            if (i == 0 && e.Type != PipelineEventTypes.PipelineStarted)
            {
                Violation(e, "started-first", $"first event is {e.Type}");
            }

            if (terminal is not null)
            {
                Violation(e, "nothing-after-terminal", $"{e.Type} after {terminal}");
            }

            var step = e.Step ?? "";
            switch (e.Type)
            {
                case PipelineEventTypes.StepDispatched:
                    if (!dispatched.Add(step) || ended.ContainsKey(step))
                    {
                        Violation(e, "dispatched-once", $"step {step} dispatched again or after it ended");
                    }

                    foreach (var dependency in dependsOn.GetValueOrDefault(step) ?? [])
                    {
                        if (ended.GetValueOrDefault(dependency) != PipelineEventTypes.StepSucceeded)
                        {
                            Violation(e, "dependencies-first", $"step {step} dispatched before {dependency} succeeded");
                        }
                    }

                    break;
                case PipelineEventTypes.StepSucceeded or PipelineEventTypes.StepFailed:
                    if (!dispatched.Contains(step) || !ended.TryAdd(step, e.Type))
                    {
                        Violation(e, "ends-once-after-dispatch", $"step {step}: {e.Type} without a dispatch or after it ended");
                    }

                    break;
                case PipelineEventTypes.StepCancelled or PipelineEventTypes.StepSkipped:
                    if (!ended.TryAdd(step, e.Type) || (e.Type == PipelineEventTypes.StepSkipped && dispatched.Contains(step)))
                    {
                        Violation(e, "ends-once", $"step {step}: {e.Type} after it ended or ran");
                    }

                    break;
                case PipelineEventTypes.PipelineCompleted:
                    terminal = e.Type;
                    if (steps.Count == 0 || steps.Any(s => ended.GetValueOrDefault(s.Name) != PipelineEventTypes.StepSucceeded))
                    {
                        Violation(e, "completed-all-succeeded", "pipeline_completed while a step did not succeed");
                    }

                    break;
                case PipelineEventTypes.PipelineFailed or PipelineEventTypes.PipelineCancelled:
                    terminal = e.Type;
                    if (steps.Any(s => !ended.ContainsKey(s.Name)))
                    {
                        Violation(e, "ends-after-steps", $"{e.Type} while steps were still open");
                    }

                    break;
                case PipelineEventTypes.PipelineStarted:
                    if (i != 0)
                    {
                        Violation(e, "started-once", "pipeline_started again");
                    }

                    break;
                default:
                    Violation(e, "known-type", $"unknown event type {e.Type}");
                    break;
            }
        }

        return violations;
    }
}
