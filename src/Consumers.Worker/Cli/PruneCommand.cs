using System.CommandLine;
using Consumers.Contracts;
using Consumers.Runtime.Control;
using Consumers.Runtime.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Consumers.Worker.Cli;

public static class PruneCommand
{
    private static readonly string[] Finished = [JobStatuses.Succeeded, JobStatuses.Failed, JobStatuses.Cancelled];

    public static Command Create()
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "Only say how many finished jobs would go, by status" };
        var command = new Command("prune",
            "Delete finished jobs and their events past their retention (Consumers:Retention), as the retention job does") { dryRun };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            var store = services.GetRequiredService<JobStore>();
            var retention = services.GetRequiredService<IOptions<RetentionOptions>>().Value;
            var keep = $"(kept: succeeded {retention.Succeeded}, failed {retention.Failed}, cancelled {retention.Cancelled})";
            if (parse.GetValue(dryRun))
            {
                var would = await store.CountPrunableAsync(retention, cancellationToken);
                Console.WriteLine($"would delete {Describe(would)} {keep}");
                return ExitCodes.Ok;
            }

            var deleted = new Dictionary<string, int>(StringComparer.Ordinal);
            while (true)
            {
                var batch = await store.PruneFinishedAsync(retention, cancellationToken);
                foreach (var (status, count) in batch)
                {
                    deleted[status] = deleted.GetValueOrDefault(status) + count;
                }

                if (batch.Values.Sum() < retention.BatchSize)
                {
                    break;
                }
            }

            Console.WriteLine($"deleted {Describe(deleted)} {keep}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static string Describe(IReadOnlyDictionary<string, int> counts) =>
        $"{counts.Values.Sum()} jobs: " + string.Join(", ", Finished.Select(s => $"{s}={counts.GetValueOrDefault(s)}"));
}
