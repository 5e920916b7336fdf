using System.Globalization;
using System.Text;
using System.Text.Json;
using Consumers.Runtime;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Pipelines;

namespace Consumers.Worker.Cli;

/// <summary><c>consumers show &lt;pipelineId&gt;</c>: the steps as a tree (a step under each step it waits for) with their status, then the pipeline's timeline.</summary>
internal static class PipelineView
{
    public static async Task<int> ShowAsync(PipelineQueries queries, PipelineRecord pipeline, bool json, CancellationToken cancellationToken)
    {
        var steps = await queries.StepsAsync(pipeline.Id, cancellationToken);
        var jobs = (await queries.JobsAsync(pipeline.Id, cancellationToken)).ToDictionary(j => j.Id);
        var timeline = await queries.TimelineAsync(pipeline.Id, cancellationToken);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                Pipeline = new { pipeline.Id, pipeline.Status, pipeline.Source, pipeline.FailedStep, pipeline.ErrorCode, pipeline.ErrorMessage, pipeline.CreatedAt, pipeline.FinishedAt },
                Steps = steps.Select(s => new
                {
                    s.Name,
                    s.Stage,
                    s.State,
                    s.DependsOn,
                    s.Reason,
                    s.JobId,
                    Job = jobs.TryGetValue(s.JobId, out var job) ? JobDetailView.Of(job) : null,
                }),
                Timeline = timeline.Select(e => new { e.Seq, e.Type, e.Step, e.JobId, e.OccurredAt, Data = JsonDocument.Parse(e.Data).RootElement }),
            }, ContractJson.Options));
            return ExitCodes.Ok;
        }

        Console.WriteLine($"pipeline {pipeline.Id}  status={pipeline.Status}  steps={steps.Count}  source={pipeline.Source}");
        if (pipeline.ErrorCode is not null)
        {
            Console.WriteLine($"  error:    {pipeline.ErrorCode}" + (pipeline.FailedStep is null ? "" : $" (step {pipeline.FailedStep})") +
                              (pipeline.ErrorMessage is null ? "" : $": {pipeline.ErrorMessage}"));
        }

        Console.WriteLine();
        Console.Write(Tree(steps, jobs));
        Console.WriteLine();
        var table = new Table("SEQ", "TIME (UTC)", "TYPE", "STEP", "DETAILS");
        foreach (var e in timeline)
        {
            var details = JsonDocument.Parse(e.Data).RootElement.EnumerateObject()
                .Select(p => p.Name == "artifacts" ? $"artifacts={p.Value.GetArrayLength()}" : $"{p.Name}={p.Value}");
            table.Add(e.Seq.ToString(CultureInfo.InvariantCulture), e.OccurredAt.UtcDateTime.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture),
                e.Type, e.Step ?? "", string.Join("  ", details));
        }

        Console.Write(table);
        return ExitCodes.Ok;
    }

    /// <summary>Roots are the steps that wait for nothing; a step that waits for several appears under each, in full only once.</summary>
    internal static string Tree(IReadOnlyList<PipelineStepRecord> steps, IReadOnlyDictionary<Guid, JobRecord> jobs)
    {
        var text = new StringBuilder();
        var drawn = new HashSet<string>(StringComparer.Ordinal);
        void Draw(PipelineStepRecord step, string indent, bool last, bool root)
        {
            var branch = root ? "" : last ? "└─ " : "├─ ";
            var line = $"{indent}{branch}{step.Name} [{step.State}] {step.Stage}";
            if (!drawn.Add(step.Name))
            {
                text.AppendLine(line + "  (shown above)");
                return;
            }

            if (jobs.TryGetValue(step.JobId, out var job))
            {
                line += $"  job {job.Id.ToString()[^8..]}  {job.OutputKey}" + (job.ArtifactSize is { } size ? $" ({size} bytes)" : "") +
                        (job.LastErrorCode is { } code && job.Status != "succeeded" ? $"  {code}" : "") +
                        (job.ClipDurationSeconds is { } clip ? $"  clip {clip:0.#}s" : "");
            }

            if (step.Reason is not null)
            {
                line += "  " + step.Reason;
            }

            text.AppendLine(line);
            var children = steps.Where(s => s.DependsOn.Contains(step.Name)).ToList();
            for (var i = 0; i < children.Count; i++)
            {
                Draw(children[i], root ? "" : indent + (last ? "   " : "│  "), i == children.Count - 1, false);
            }
        }

        foreach (var root in steps.Where(s => s.DependsOn.Length == 0))
        {
            Draw(root, "", true, true);
        }

        return text.ToString();
    }
}
