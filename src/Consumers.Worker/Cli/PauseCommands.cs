using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Consumers.Runtime;
using Consumers.Runtime.Control;
using Consumers.Runtime.Stages;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Worker.Cli;

/// <summary><c>consumers pause</c>, <c>resume</c> and <c>pauses</c>: hold a stage on every worker, release it, see what is held.</summary>
public static class PauseCommands
{
    public static Command Pause()
    {
        var stage = new Argument<string>("stage") { Description = "The stage to hold (probe, thumbnail, transcode, ...)" };
        var reason = new Option<string?>("--reason") { Description = "Why; kept with the pause and in the operator audit" };
        var by = new Option<string?>("--by") { Description = "Who pauses (default: your OS user name)" };
        var command = new Command("pause",
            "Stop new starts of a stage on every worker within 2 s; running jobs finish, waiting ones stay in RabbitMQ")
        {
            stage, reason, by,
        };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            var name = KnownStage(services, parse.GetValue(stage)!);
            var who = parse.GetValue(by) is { Length: > 0 } named ? named : Environment.UserName;
            var paused = await services.GetRequiredService<StagePauseStore>().PauseAsync(name, who, parse.GetValue(reason), cancellationToken);
            await services.GetRequiredService<OperatorAudit>().RecordAsync("pause", name, who, parse.GetValue(reason),
                paused ? "paused" : "already_paused", cancellationToken);
            Console.WriteLine(paused ? $"{name} paused" : $"{name} was already paused");
            return ExitCodes.Ok;
        }));
        return command;
    }

    public static Command Resume()
    {
        var stage = new Argument<string>("stage") { Description = "The paused stage to release" };
        var by = new Option<string?>("--by") { Description = "Who resumes (default: your OS user name)" };
        var command = new Command("resume", "Let every worker start jobs of a paused stage again, the held ones first") { stage, by };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            var name = parse.GetValue(stage)!;
            var who = parse.GetValue(by) is { Length: > 0 } named ? named : Environment.UserName;
            var resumed = await services.GetRequiredService<StagePauseStore>().ResumeAsync(name, cancellationToken);
            await services.GetRequiredService<OperatorAudit>().RecordAsync("resume", name, who, null, resumed ? "resumed" : "not_paused", cancellationToken);
            Console.WriteLine(resumed ? $"{name} resumed" : $"{name} was not paused");
            return ExitCodes.Ok;
        }));
        return command;
    }

    public static Command List()
    {
        var command = new Command("pauses", "List the paused stages, who paused them and why") { SharedOptions.Json };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            var pauses = await services.GetRequiredService<StagePauseStore>().ListAsync(cancellationToken);
            if (parse.GetValue(SharedOptions.Json))
            {
                Console.WriteLine(JsonSerializer.Serialize(pauses, ContractJson.Options));
                return ExitCodes.Ok;
            }

            if (pauses.Count == 0)
            {
                Console.WriteLine("no stage is paused");
                return ExitCodes.Ok;
            }

            var table = new Table("STAGE", "PAUSED (UTC)", "BY", "REASON");
            foreach (var pause in pauses)
            {
                table.Add(pause.Stage, pause.PausedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), pause.PausedBy, pause.Reason ?? "");
            }

            Console.Write(table);
            return ExitCodes.Ok;
        }));
        return command;
    }

    // Pausing a name no worker knows would hold nothing and hide a typo.
    private static string KnownStage(IServiceProvider services, string stage)
    {
        var names = services.GetRequiredService<StageRegistry>().Names;
        return names.Contains(stage)
            ? stage
            : throw new UsageException($"unknown stage '{stage}'; stages: {string.Join(", ", names.Order(StringComparer.Ordinal))}");
    }
}
