using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Consumers.Runtime.Persistence;

/// <summary>
/// Holds a worker's start-up until the database has every migration this version knows. Registered before the bus,
/// the relay, the heartbeat and the sweep, it keeps all of them (and so the job intake) from starting: without the
/// schema a delivered job could not be acquired and would end in the error queue. It waits up to
/// <see cref="DatabaseOptions.SchemaWaitTimeout"/> (a migrate step that runs beside the worker, as in compose or a
/// Kubernetes Job, gets that long), then fails the start with <see cref="SchemaMissingException"/>.
/// </summary>
public sealed partial class SchemaGate(
    NpgsqlDataSource dataSource, IServiceScopeFactory scopes, IOptions<DatabaseOptions> options, TimeProvider time, ILogger<SchemaGate> logger)
    : IHostedService
{
    // EF Core's default history table; the migrations here do not rename it.
    private const string HistoryExists = "SELECT to_regclass('\"__EFMigrationsHistory\"') IS NOT NULL";
    private const string AppliedMigrations = "SELECT \"MigrationId\" FROM \"__EFMigrationsHistory\"";

    private volatile bool passed;

    public Task StartAsync(CancellationToken cancellationToken) => WaitForSchemaAsync(cancellationToken);

    /// <summary>
    /// Returns once the schema is complete (at once after the first success); throws <see cref="SchemaMissingException"/>
    /// after the wait, or the <see cref="PostgresException"/> of a refused login. A host may call it before it starts,
    /// so that such a failure is its own and not the host's start failing.
    /// </summary>
    public async Task WaitForSchemaAsync(CancellationToken cancellationToken)
    {
        if (passed)
        {
            return;
        }

        var wait = options.Value.SchemaWaitTimeout;
        var started = time.GetTimestamp();
        string? reported = null;
        while (true)
        {
            var problem = await ProblemAsync(cancellationToken);
            if (problem is null)
            {
                if (reported is not null)
                {
                    LogSchemaArrived();
                }

                passed = true;
                return;
            }

            if (time.GetElapsedTime(started) >= wait)
            {
                throw new SchemaMissingException(problem);
            }

            // One line per distinct problem, not one per poll.
            if (problem != reported)
            {
                LogWaiting(problem, wait);
                reported = problem;
            }

            await Task.Delay(options.Value.SchemaPollInterval, time, cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>What keeps the worker from starting, or null when the schema is complete.</summary>
    public async Task<string?> ProblemAsync(CancellationToken cancellationToken)
    {
        try
        {
            IReadOnlyList<string> known;
            await using (var scope = scopes.CreateAsyncScope())
            {
                known = [.. scope.ServiceProvider.GetRequiredService<ConsumersDbContext>().Database.GetMigrations()];
            }

            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using (var exists = new NpgsqlCommand(HistoryExists, connection))
            {
                if (await exists.ExecuteScalarAsync(cancellationToken) is not true)
                {
                    return "the database has no Consumers schema yet: run `consumers migrate`";
                }
            }

            var applied = new HashSet<string>(StringComparer.Ordinal);
            await using (var read = new NpgsqlCommand(AppliedMigrations, connection))
            await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    applied.Add(reader.GetString(0));
                }
            }

            var missing = known.Where(m => !applied.Contains(m)).ToList();
            return missing.Count == 0 ? null : $"the database schema is behind this version ({missing.Count} migration(s) missing, the first {missing[0]}): run `consumers migrate`";
        }
        catch (NpgsqlException ex) when (!cancellationToken.IsCancellationRequested && !RefusesLogin(ex))
        {
            return "PostgreSQL is not reachable (" + ex.Message + ")";
        }
    }

    // A wrong password or a database that does not exist will not fix itself by waiting: fail the start at once.
    private static bool RefusesLogin(NpgsqlException ex) => ex is PostgresException
    {
        SqlState: PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification or PostgresErrorCodes.InvalidCatalogName,
    };

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Not starting: {Problem}. No job is taken until the schema is there; waiting up to {Wait} (Consumers:Database:SchemaWaitTimeout)")]
    private partial void LogWaiting(string problem, TimeSpan wait);

    [LoggerMessage(Level = LogLevel.Information, Message = "The database schema is complete; starting")]
    private partial void LogSchemaArrived();
}

/// <summary>The worker gave up waiting for the schema; <c>consumers run</c> exits with code 4.</summary>
public sealed class SchemaMissingException(string problem) : Exception(problem);
