using System.CommandLine;
using System.Globalization;
using System.Text;
using Consumers.Contracts;
using Consumers.Runtime.Jobs;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Worker.Cli;

/// <summary>A live view for people: counts per status, a progress bar per running job, the latest outcomes.</summary>
public static class WatchCommand
{
    public static Command Create()
    {
        var untilIdle = new Option<bool>("--until-idle") { Description = "Exit once no job is queued or processing" };
        var interval = new Option<double>("--interval") { Description = "Seconds between refreshes", DefaultValueFactory = _ => 0.5 };
        var timeout = new Option<double?>("--timeout") { Description = "Give up after this many seconds (exit 1)" };
        var command = new Command("watch", "Show running jobs with progress bars and the latest outcomes, refreshed") { untilIdle, interval, timeout };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            // Zero would hammer the database with back-to-back queries; NaN and negatives make no sense.
            if (!(parse.GetValue(interval) >= MinimumInterval))
            {
                throw new UsageException($"--interval must be at least {MinimumInterval} seconds, got {parse.GetValue(interval)}");
            }

            if (parse.GetValue(timeout) is { } limit && !(limit > 0))
            {
                throw new UsageException($"--timeout must be more than 0 seconds, got {limit}");
            }

            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            var redraw = !Console.IsOutputRedirected;
            var deadline = parse.GetValue(timeout) is { } seconds ? DateTime.UtcNow.AddSeconds(seconds) : DateTime.MaxValue;
            var previousLines = 0;
            var previousSummary = "";
            while (true)
            {
                await using var scope = services.CreateAsyncScope();
                var queries = scope.ServiceProvider.GetRequiredService<JobQueries>();
                var counts = await queries.CountByStatusAsync(cancellationToken);
                var running = await queries.ListAsync(JobStatuses.Processing, null, 20, cancellationToken);
                var recent = (await queries.ListAsync(null, null, 200, cancellationToken))
                    .Where(j => JobStatuses.IsTerminal(j.Status)).OrderByDescending(j => j.FinishedAt).Take(6).ToList();
                var summary = string.Join("  ", JobStatuses.All.Select(s => $"{s}={counts.GetValueOrDefault(s)}"));

                if (redraw)
                {
                    var screen = Render(summary, running, recent);
                    if (previousLines > 0)
                    {
                        Console.Write($"\u001b[{previousLines}F\u001b[J");
                    }

                    Console.Write(screen);
                    previousLines = screen.Count(c => c == '\n');
                }
                else
                {
                    // Logs and pipes get a line per change instead of a redrawn screen.
                    var bars = string.Join(" ", running.Select(j => $"{ShortId(j.Id)}:{j.ProgressPercent ?? 0}%"));
                    var line = summary + (bars.Length > 0 ? "  running " + bars : "");
                    if (line != previousSummary)
                    {
                        Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {line}");
                        previousSummary = line;
                    }
                }

                var busy = counts.GetValueOrDefault(JobStatuses.Queued) + counts.GetValueOrDefault(JobStatuses.Processing);
                if (parse.GetValue(untilIdle) && busy == 0)
                {
                    return ExitCodes.Ok;
                }

                if (DateTime.UtcNow > deadline)
                {
                    await Console.Error.WriteLineAsync($"error: still {busy} job(s) queued or processing after the timeout");
                    return ExitCodes.Failed;
                }

                await Task.Delay(TimeSpan.FromSeconds(parse.GetValue(interval)), cancellationToken);
            }
        }));
        return command;
    }

    private const double MinimumInterval = 0.1;

    private static string Render(string summary, List<JobRecord> running, List<JobRecord> recent)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"jobs: {summary}");
        foreach (var job in running)
        {
            var percent = job.ProgressPercent ?? 0;
            var filled = percent / 5;
            text.AppendLine(CultureInfo.InvariantCulture,
                $"  {ShortId(job.Id)} {job.Stage,-10} [{new string('#', filled)}{new string('.', 20 - filled)}] {percent,3}%  attempt {job.AttemptCount} on {job.LeaseOwner}");
        }

        foreach (var job in recent)
        {
            var detail = job.LastErrorCode is null ? job.ArtifactKey : $"{job.LastErrorCode}";
            text.AppendLine(CultureInfo.InvariantCulture, $"  {ShortId(job.Id)} {job.Stage,-10} {job.Status,-10} {detail}");
        }

        return text.ToString();
    }

    // The tail: version 7 ids share their leading (time) digits.
    internal static string ShortId(Guid id) => id.ToString()[^8..];
}
