using System.CommandLine;
using System.Text.Json;
using Consumers.Runtime;
using Consumers.Runtime.Control;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Worker.Cli;

/// <summary><c>consumers dead-letters list|show|replay</c>: the job error queues, why each message is there, and sending valid ones back.</summary>
public static class DeadLettersCommand
{
    private static readonly JsonSerializerOptions Indented = new(ContractJson.Options) { WriteIndented = true };

    public static Command Create()
    {
        var command = new Command("dead-letters", "Messages in consumers.jobs_error and the lane error queues: list, show, replay");
        command.Subcommands.Add(List());
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Replay());
        return command;
    }

    private static Option<string?> QueueOption() => new("--queue") { Description = "One error queue (default: the job queue's and every lane's)" };

    private static Command List()
    {
        var queue = QueueOption();
        var limit = new Option<int>("--limit") { Description = "At most this many per queue", DefaultValueFactory = _ => 100 };
        var command = new Command("list", "List dead letters with their fault reason; nothing is removed") { queue, limit, SharedOptions.Json };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            var queues = services.GetRequiredService<DeadLetterQueues>();
            var letters = new List<DeadLetter>();
            foreach (var name in Queues(queues, parse.GetValue(queue)))
            {
                letters.AddRange(await queues.PeekAsync(name, Math.Max(1, parse.GetValue(limit)), cancellationToken));
            }

            if (parse.GetValue(SharedOptions.Json))
            {
                Console.WriteLine(JsonSerializer.Serialize(letters.Select(l => new { l.Queue, l.MessageId, l.JobId, l.Stage, l.Reason, l.ExceptionType, l.FaultMessage, l.FaultedAt, l.Valid, l.Problem }), ContractJson.Options));
                return ExitCodes.Ok;
            }

            var table = new Table("QUEUE", "MESSAGE", "JOB", "VALID", "FAULT");
            foreach (var l in letters)
            {
                table.Add(l.Queue, l.MessageId ?? "-", l.JobId?.ToString() ?? "-", l.Valid ? "yes" : "no: " + l.Problem, $"{l.ExceptionType}: {l.FaultMessage}");
            }

            Console.Write(table);
            Console.WriteLine($"{letters.Count} dead letters, {letters.Count(l => l.Valid)} valid (replayable)");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Show()
    {
        var id = new Argument<string>("message-id") { Description = "The message id (as list prints it)" };
        var queue = QueueOption();
        var command = new Command("show", "One dead letter: fault headers and body") { id, queue };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            var queues = services.GetRequiredService<DeadLetterQueues>();
            foreach (var name in Queues(queues, parse.GetValue(queue)))
            {
                var letter = (await queues.PeekAsync(name, int.MaxValue, cancellationToken)).FirstOrDefault(l => l.MessageId == parse.GetValue(id));
                if (letter is not null)
                {
                    Console.WriteLine(JsonSerializer.Serialize(letter, Indented));
                    return ExitCodes.Ok;
                }
            }

            await Console.Error.WriteLineAsync($"error: no dead letter {parse.GetValue(id)}");
            return ExitCodes.NotFound;
        }));
        return command;
    }

    private static Command Replay()
    {
        var id = new Option<string?>("--id") { Description = "Replay this message id only" };
        var all = new Option<bool>("--all") { Description = "Replay every valid dead letter" };
        var queue = QueueOption();
        var by = new Option<string?>("--by") { Description = "Who replays (default: your OS user name)" };
        var command = new Command("replay",
            "Send valid dead letters back to the queue they failed on and remove them from the error queue (a duplicate is skipped on acquire)")
        {
            id, all, queue, by,
        };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            var messageId = parse.GetValue(id);
            if (messageId is null == !parse.GetValue(all))
            {
                throw new UsageException("give exactly one of --id <message-id> or --all");
            }

            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            var queues = services.GetRequiredService<DeadLetterQueues>();
            var audit = services.GetRequiredService<OperatorAudit>();
            var who = parse.GetValue(by) is { Length: > 0 } named ? named : Environment.UserName;
            var replayed = 0;
            foreach (var name in Queues(queues, parse.GetValue(queue)))
            {
                var result = await queues.ReplayAsync(name, l => messageId is null || l.MessageId == messageId, cancellationToken);
                foreach (var letter in result.Replayed)
                {
                    Console.WriteLine($"replayed {letter.MessageId} (job {letter.JobId}) to {letter.SourceQueue}");
                    await audit.RecordAsync("dead-letter-replay", letter.JobId?.ToString() ?? letter.MessageId ?? name, who, null, "replayed", cancellationToken);
                }

                foreach (var letter in result.Kept.Where(l => !l.Valid && (messageId is null || l.MessageId == messageId)))
                {
                    Console.WriteLine($"kept {letter.MessageId} in {name}: {letter.Problem}");
                }

                replayed += result.Replayed.Count;
            }

            Console.WriteLine($"{replayed} replayed");
            return messageId is not null && replayed == 0 ? ExitCodes.NotFound : ExitCodes.Ok;
        }));
        return command;
    }

    private static IReadOnlyList<string> Queues(DeadLetterQueues queues, string? one) => one is null ? queues.ErrorQueues() : [one];
}
