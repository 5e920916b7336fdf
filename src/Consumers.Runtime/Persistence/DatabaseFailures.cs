using System.Net.Sockets;
using Npgsql;

namespace Consumers.Runtime.Persistence;

/// <summary>
/// Tells an error of the database path (PostgreSQL unreachable, restarting, out of connections, too slow, or
/// the session killed) from an error about the statement or the job. The first says nothing about the job: the
/// work is handed back or the write retried, never charged to the job or dead-lettered.
/// </summary>
public static class DatabaseFailures
{
    public static bool IsUnavailable(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case PostgresException postgres:
                    return IsUnavailableState(postgres.SqlState) || postgres.IsTransient;
                case NpgsqlException npgsql when npgsql.IsTransient:
                    return true;
                case SocketException or EndOfStreamException:
                    return true;
                case TimeoutException when exception is NpgsqlException:
                    return true;
            }
        }

        // Npgsql wraps broken connections (IOException, timeouts) in a plain NpgsqlException.
        return exception is NpgsqlException { InnerException: IOException or TimeoutException };
    }

    // 08: connection exception; 53: insufficient resources (53300 too many clients); 57P01-57P03: the server is
    // shutting down, crashed or not yet accepting connections, or the session was terminated; 57014: cancelled
    // by statement_timeout (too slow).
    private static bool IsUnavailableState(string state) =>
        state.StartsWith("08", StringComparison.Ordinal) || state.StartsWith("53", StringComparison.Ordinal) ||
        state is "57P01" or "57P02" or "57P03" or "57014";
}
