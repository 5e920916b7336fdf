using System.Net.Sockets;
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
        catch (NpgsqlException ex) when (ex.InnerException is SocketException || ex.IsTransient)
        {
            await Console.Error.WriteLineAsync($"error: PostgreSQL is not reachable ({ex.Message}). Is the stack up? Try: scripts/stack.sh up");
            return ExitCodes.Unavailable;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            await Console.Error.WriteLineAsync($"error: the database has no schema yet ({ex.MessageText}). Run: consumers migrate");
            return ExitCodes.Unavailable;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("cancelled");
            return ExitCodes.Failed;
        }
    }
}
