using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Consumers.Bench.Hangfire;
using Hangfire;
using Hangfire.PostgreSql;
using Npgsql;

// consumers-bench-hangfire --connection <npgsql connection string> --schema <name> --jobs <n> [--poll-ms <ms>] [--workers <n>]
// Enqueues n no-op jobs with no server running, then starts one BackgroundJobServer and times it from the first
// job's Processing state to the last one's Succeeded state (as the main benchmark times its own jobs from the first
// `started` to the last `completed`). Prints one JSON object on stdout. --poll-ms 0 (the default) and --workers 0
// keep Hangfire's own defaults.
var settings = Arguments.Parse(args);
var storageOptions = new PostgreSqlStorageOptions { SchemaName = settings.Schema, PrepareSchemaIfNecessary = true };
if (settings.PollMilliseconds > 0)
{
    storageOptions.QueuePollInterval = TimeSpan.FromMilliseconds(settings.PollMilliseconds);
}

GlobalConfiguration.Configuration
    .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
    .UseSimpleAssemblyNameTypeSerializer()
    .UseRecommendedSerializerSettings()
    .UsePostgreSqlStorage(o => o.UseNpgsqlConnection(settings.ConnectionString), storageOptions);

var client = new BackgroundJobClient();
var next = -1;
var submitClock = Stopwatch.StartNew();
await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() =>
{
    while (Interlocked.Increment(ref next) < settings.Jobs)
    {
        client.Enqueue(() => NoopJob.Run());
    }
})));
var submitRate = settings.Jobs / submitClock.Elapsed.TotalSeconds;

var transactionsBefore = await CommittedTransactionsAsync(settings.ConnectionString);
var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
var serverOptions = new BackgroundJobServerOptions();
if (settings.Workers > 0)
{
    serverOptions.WorkerCount = settings.Workers;
}

var wall = Stopwatch.StartNew();
var finished = false;
using (var server = new BackgroundJobServer(serverOptions))
{
    var monitoring = JobStorage.Current.GetMonitoringApi();
    var bound = TimeSpan.FromSeconds(Math.Max(120, settings.Jobs / 5.0));
    while (wall.Elapsed < bound)
    {
        if (monitoring.SucceededListCount() + monitoring.FailedCount() >= settings.Jobs)
        {
            finished = true;
            break;
        }

        await Task.Delay(100);
    }

    var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
    var wallSeconds = wall.Elapsed.TotalSeconds;
    var transactions = await CommittedTransactionsAsync(settings.ConnectionString) - transactionsBefore;
    var (first, last, succeeded) = await WindowAsync(settings);
    server.SendStop();
    var result = new Dictionary<string, object?>
    {
        ["finished"] = finished,
        ["jobs"] = settings.Jobs,
        ["succeeded"] = succeeded,
        ["workers"] = serverOptions.WorkerCount,
        ["queuePollMs"] = storageOptions.QueuePollInterval.TotalMilliseconds,
        ["submitPerSecond"] = submitRate,
        ["wallSeconds"] = wallSeconds,
        ["jobsPerSecond"] = last > first ? succeeded / (last - first).TotalSeconds : null,
        ["processCpuMsPerJob"] = cpu.TotalMilliseconds / settings.Jobs,
        // The server's own polling counts too, as ours does; the one-second wait loop above adds about 2 per 100 ms.
        ["transactionsPerJob"] = transactions / (double)settings.Jobs,
    };
    Console.WriteLine(JsonSerializer.Serialize(result));
}

return finished ? 0 : 1;

static async Task<long> CommittedTransactionsAsync(string connectionString)
{
    await using var connection = new NpgsqlConnection(connectionString);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()", connection);
    return (long)(await command.ExecuteScalarAsync())!;
}

// First Processing and last Succeeded state of the run's jobs, from Hangfire's own state history.
static async Task<(DateTime First, DateTime Last, long Succeeded)> WindowAsync(Arguments settings)
{
    await using var connection = new NpgsqlConnection(settings.ConnectionString);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand(
        $"SELECT min(createdat) FILTER (WHERE name = 'Processing'), max(createdat) FILTER (WHERE name = 'Succeeded'), " +
        $"count(*) FILTER (WHERE name = 'Succeeded') FROM \"{settings.Schema}\".state", connection);
    await using var reader = await command.ExecuteReaderAsync();
    await reader.ReadAsync();
    return reader.IsDBNull(0) || reader.IsDBNull(1)
        ? (default, default, reader.GetInt64(2))
        : (reader.GetDateTime(0), reader.GetDateTime(1), reader.GetInt64(2));
}

namespace Consumers.Bench.Hangfire
{
    /// <summary>The job: nothing, so that what is measured is Hangfire's own path through PostgreSQL.</summary>
    public static class NoopJob
    {
        public static void Run()
        {
        }
    }

    internal sealed record Arguments(string ConnectionString, string Schema, int Jobs, int PollMilliseconds, int Workers)
    {
        public static Arguments Parse(string[] args)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i + 1 < args.Length; i += 2)
            {
                values[args[i]] = args[i + 1];
            }

            int Number(string name, int fallback) =>
                values.TryGetValue(name, out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

            return new Arguments(
                values.GetValueOrDefault("--connection") ?? throw new ArgumentException("--connection is required"),
                values.GetValueOrDefault("--schema") ?? "hangfire",
                Number("--jobs", 2000),
                Number("--poll-ms", 0),
                Number("--workers", 0));
        }
    }
}
