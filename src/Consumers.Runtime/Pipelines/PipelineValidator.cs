using System.Text.RegularExpressions;
using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Stages;

namespace Consumers.Runtime.Pipelines;

/// <summary>
/// Checks a <see cref="PipelineRequested"/> before anything of it runs, and turns a valid one into its steps' jobs.
/// A problem is <c>INVALID_REQUEST</c> naming the step and the field (for example <c>steps.thumb.dependsOn</c>).
/// </summary>
public static partial class PipelineValidator
{
    /// <summary>The most steps a pipeline may have: a pipeline is one upload's work, not a batch.</summary>
    public const int MaxSteps = 16;

    /// <returns>The steps in request order, or throws <see cref="JobFailureException"/> (its <c>Field</c> names step and field).</returns>
    public static IReadOnlyList<PlannedStep> Plan(PipelineRequested request, StageRegistry stages, int defaultMaxAttempts)
    {
        Require(request.PipelineId != Guid.Empty, "pipelineId", "is missing or empty");
        Require(request.SchemaVersion is >= 1 and <= 1, "schemaVersion", $"{request.SchemaVersion} is not a supported version (1)");
        var steps = request.Steps ?? [];
        Require(steps.Count >= 1, "steps", "is empty");
        Require(steps.Count <= MaxSteps, "steps", $"has {steps.Count} steps; at most {MaxSteps} are allowed");

        var names = new HashSet<string>(StringComparer.Ordinal);
        var keys = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i] ?? new PipelineStep();
            var at = $"steps[{i}]";
            Require(StepName().IsMatch(step.Name ?? ""), at + ".name", "must be 1 to 64 letters, digits, '-' or '_'");
            Require(names.Add(step.Name!), at + ".name", $"'{step.Name}' is used by another step");
        }

        var byName = steps.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var planned = new List<PlannedStep>(steps.Count);
        foreach (var step in steps)
        {
            var at = "steps." + step.Name;
            var job = new JobRequested
            {
                JobId = Guid.CreateVersion7(),
                Stage = step.Stage ?? "",
                Source = request.Source ?? "",
                OutputKey = step.OutputKey ?? "",
                ClipDurationSeconds = step.ClipDurationSeconds,
                Parameters = step.Parameters,
                MaxAttempts = step.MaxAttempts,
            };
            try
            {
                // The same checks a job gets on its own: known stage, confined output key, source, parameters.
                JobRequestValidator.Validate(job, stages);
            }
            catch (JobFailureException ex)
            {
                var field = at + "." + (ex.Field ?? "request");
                throw Invalid(field, ex.Message.StartsWith(ex.Field ?? "\0", StringComparison.Ordinal) ? ex.Message[(ex.Field!.Length + 1)..] : ex.Message);
            }

            Require(keys.TryAdd(job.OutputKey.Trim('/'), step.Name), at + ".outputKey",
                $"'{job.OutputKey}' is also the output of step {(keys.TryGetValue(job.OutputKey.Trim('/'), out var other) ? other : "?")}");
            var dependsOn = step.DependsOn ?? [];
            foreach (var dependency in dependsOn)
            {
                Require(dependency != step.Name, at + ".dependsOn", "names the step itself");
                Require(dependency is not null && byName.ContainsKey(dependency), at + ".dependsOn", $"'{dependency}' is not a step of this pipeline");
            }

            Require(dependsOn.Distinct(StringComparer.Ordinal).Count() == dependsOn.Count, at + ".dependsOn", "names a step twice");
            planned.Add(new PlannedStep(step.Name, job, [.. dependsOn], [], job.MaxAttempts ?? defaultMaxAttempts));
        }

        return WithAncestors(planned);
    }

    /// <summary>Every step's ancestors, found by walking the dependencies; a cycle is named by the first step found on it.</summary>
    private static List<PlannedStep> WithAncestors(List<PlannedStep> steps)
    {
        var byName = steps.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var ancestors = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        var visiting = new HashSet<string>(StringComparer.Ordinal);

        SortedSet<string> Visit(string name)
        {
            if (ancestors.TryGetValue(name, out var known))
            {
                return known;
            }

            Require(visiting.Add(name), $"steps.{name}.dependsOn", "is part of a dependency cycle");
            var set = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var dependency in byName[name].DependsOn)
            {
                set.Add(dependency);
                set.UnionWith(Visit(dependency));
            }

            visiting.Remove(name);
            ancestors[name] = set;
            return set;
        }

        return [.. steps.Select(s => s with { Ancestors = [.. Visit(s.Name)] })];
    }

    private static void Require(bool condition, string field, string problem)
    {
        if (!condition)
        {
            throw Invalid(field, problem);
        }
    }

    private static JobFailureException Invalid(string field, string problem) =>
        new(ErrorCodes.InvalidRequest, $"{field} {problem}") { Field = field };

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex StepName();
}

/// <summary>A valid step: its name, the job it becomes (before earlier steps' outputs fill it in), its dependencies and ancestors.</summary>
public sealed record PlannedStep(string Name, JobRequested Job, IReadOnlyList<string> DependsOn, IReadOnlyList<string> Ancestors, int MaxAttempts);
