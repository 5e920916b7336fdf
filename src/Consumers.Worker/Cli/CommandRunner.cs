using System.Net.Sockets;
using Consumers.Runtime.Persistence;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Consumers.Worker.Cli;

/// <summary>Turns exceptions at the edge of a verb into one clear line on stderr and a meaningful exit code.</summary>
public static class CommandRunner
{
    public static async Task<int> RunAsync(Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (UsageException ex)
        {
            await Console.Error.WriteLineAsync("error: " + ex.Message);
            return ExitCodes.Usage;
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync("error: invalid settings: " + string.Join("; ", ex.Failures));
            return ExitCodes.Usage;
        }
        catch (AggregateException ex) when (ex.InnerExceptions.All(e => e is OptionsValidationException))
        {
            // Start-up validation of several settings sections at once.
            var failures = ex.InnerExceptions.Cast<OptionsValidationException>().SelectMany(e => e.Failures);
            await Console.Error.WriteLineAsync("error: invalid settings: " + string.Join("; ", failures));
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("cancelled");
            return ExitCodes.Failed;
        }
        catch (SchemaMissingException ex)
        {
            await Console.Error.WriteLineAsync($"error: gave up waiting: {ex.Message}");
            return ExitCodes.Unavailable;
        }
        catch (Exception ex) when (Find<Runtime.Messaging.QueuePriorityMismatchException>(ex) is { } mismatch)
        {
            await Console.Error.WriteLineAsync("error: " + mismatch.Message);
            return ExitCodes.Usage;
        }
        catch (Exception ex) when (Find<PostgresException>(ex) is { SqlState: PostgresErrorCodes.UndefinedTable } missing)
        {
            await Console.Error.WriteLineAsync($"error: the database has no schema yet ({missing.MessageText}). Run: consumers migrate");
            return ExitCodes.Unavailable;
        }
        catch (Exception ex) when (Find<PostgresException>(ex) is { } refused && RefusesLogin(refused))
        {
            await Console.Error.WriteLineAsync(
                $"error: PostgreSQL refused the connection ({refused.SqlState}: {refused.MessageText}). Check Consumers:Database:ConnectionString");
            return ExitCodes.Unavailable;
        }
        catch (Exception ex) when (Find<NpgsqlException>(ex) is { } npgsql && (npgsql.IsTransient || npgsql.InnerException is SocketException))
        {
            await Console.Error.WriteLineAsync($"error: PostgreSQL is not reachable ({npgsql.Message}). Is the stack up? Try: scripts/stack.sh up");
            return ExitCodes.Unavailable;
        }
    }

    // A wrong user or password, or a database that does not exist: the server is there but this string cannot use it.
    private static bool RefusesLogin(PostgresException ex) => ex.SqlState is PostgresErrorCodes.InvalidPassword
        or PostgresErrorCodes.InvalidAuthorizationSpecification or PostgresErrorCodes.InvalidCatalogName;

    // EF Core wraps provider errors (for example in its retrying execution strategy); look through the chain.
    private static T? Find<T>(Exception? exception) where T : Exception
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is T match)
            {
                return match;
            }
        }

        return null;
    }
}
