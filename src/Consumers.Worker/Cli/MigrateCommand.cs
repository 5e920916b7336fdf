using System.CommandLine;
using Consumers.Runtime.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Worker.Cli;

public static class MigrateCommand
{
    public static Command Create()
    {
        var script = new Option<bool>("--script") { Description = "Print an idempotent SQL script (for a DBA) instead of applying it" };
        var command = new Command("migrate", "Create or upgrade the database schema; safe to run again and from several processes") { script };
        command.SetAction((parse, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            await using var services = CliContext.BuildServices(CliContext.BuildConfiguration(parse.GetValue(SharedOptions.Set)!));
            await using var scope = services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ConsumersDbContext>();
            if (parse.GetValue(script))
            {
                var migrator = db.GetService<IMigrator>();
                Console.Write(migrator.GenerateScript(options: MigrationsSqlGenerationOptions.Idempotent));
                return ExitCodes.Ok;
            }

            var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
            await db.Database.MigrateAsync(cancellationToken);
            Console.WriteLine(pending.Count == 0
                ? "schema is up to date"
                : $"applied {pending.Count} migration(s): {string.Join(", ", pending)}");
            return ExitCodes.Ok;
        }));
        return command;
    }
}
