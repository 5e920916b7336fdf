using System.CommandLine;
using Consumers.Contracts;
using Consumers.Runtime.Control;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Consumers.Worker.Cli;

public static class PruneCommand
{
    private static readonly string[] Finished = [JobStatuses.Succeeded, JobStatuses.Failed, JobStatuses.Cancelled];

    public static Command Create()
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "Only say how many jobs, pipelines and operator actions would go" };
        var command = new Command("prune",
            "Delete what is past its retention (Consumers:Retention), as the retention job does: finished jobs with their events and " +
            "checkpoints, finished pipelines with their steps and timeline, old operator actions")
        {
            dryRun,
        };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            var store = services.GetRequiredService<RetentionStore>();
            var retention = services.GetRequiredService<IOptions<RetentionOptions>>().Value;
            var keep = $"(kept: succeeded {retention.Succeeded}, failed {retention.Failed}, cancelled {retention.Cancelled}, " +
                       $"operator actions {retention.OperatorActions})";
            if (parse.GetValue(dryRun))
            {
                Console.WriteLine($"would delete {Describe(await store.CountPrunableAsync(retention, cancellationToken))} {keep}");
                return ExitCodes.Ok;
            }

            var deleted = new PruneCounts(new Dictionary<string, int>(), new Dictionary<string, int>(), 0);
            PruneCounts batch;
            do
            {
                batch = await store.PruneBatchAsync(retention, cancellationToken);
                deleted = deleted.Plus(batch);
            }
            while (RetentionJob.IsFull(batch, retention.BatchSize));

            Console.WriteLine($"deleted {Describe(deleted)} {keep}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    // Step jobs of a pipeline that goes now are counted by the next run (or the next batch): they are kept while it exists.
    private static string Describe(PruneCounts counts) =>
        $"{counts.JobTotal} jobs: {ByStatus(counts.Jobs)}; {counts.PipelineTotal} pipelines: {ByStatus(counts.Pipelines)}; " +
        $"{counts.OperatorActions} operator actions";

    private static string ByStatus(IReadOnlyDictionary<string, int> counts) =>
        string.Join(", ", Finished.Select(s => $"{s}={counts.GetValueOrDefault(s)}"));
}
