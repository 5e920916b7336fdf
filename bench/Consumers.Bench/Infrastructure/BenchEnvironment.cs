using System.Globalization;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Messaging;
using Consumers.Runtime.Persistence;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Consumers.Bench.Infrastructure;

/// <summary>
/// The run's private corner of the shared stack: a fresh database with the schema migrated (and
/// <c>pg_stat_statements</c> when the server preloads it), a fresh RabbitMQ virtual host and its own folders.
/// Everything but the worker logs is removed afterwards.
/// </summary>
public sealed class BenchEnvironment : IAsyncDisposable
{
    /// <summary>Marks the benchmark's own statements so that per-job statement counts leave them out.</summary>
    public const string OwnStatementMarker = "/* bench */ ";

    private readonly List<WorkerProcess> workers = [];

    private BenchEnvironment(string name, int maxAutoPrepare)
    {
        Name = name;
        Root = Path.Combine(Path.GetTempPath(), "consumers-bench", name);
        LogRoot = Path.Combine(Path.GetTempPath(), "consumers-bench", "logs", name);
        Directory.CreateDirectory(ArtifactRoot);
        Directory.CreateDirectory(ScratchRoot);
        Directory.CreateDirectory(MediaRoot);
        Directory.CreateDirectory(LogRoot);
        var admin = new NpgsqlConnectionStringBuilder(StackSettings.AdminConnectionString);
        // The worker's connection string is the shipped appsettings.json one, pointed at this run's database.
        WorkerConnectionString = new NpgsqlConnectionStringBuilder(admin.ConnectionString)
        {
            Database = name,
            MaxPoolSize = 40,
            MaxAutoPrepare = maxAutoPrepare,
        }.ConnectionString;
        ConnectionString = new NpgsqlConnectionStringBuilder(admin.ConnectionString)
        {
            Database = name,
            MaxPoolSize = 60,
            MaxAutoPrepare = 64,
            ApplicationName = "consumers-bench",
        }.ConnectionString;
        // Like the runtime's own pool: no session reset on every return.
        DataSource = NpgsqlDataSource.Create(ConnectionString + ";No Reset On Close=true");
        Store = new JobStore(DataSource, Microsoft.Extensions.Options.Options.Create(new RabbitMqOptions()));
    }

    public string Name { get; }
    public string VirtualHost => Name;
    public string Root { get; }
    public string LogRoot { get; }
    public string ArtifactRoot => Path.Combine(Root, "artifacts");
    public string ScratchRoot => Path.Combine(Root, "scratch");
    public string MediaRoot => Path.Combine(Root, "media");
    public string ConnectionString { get; }
    public string WorkerConnectionString { get; }
    public NpgsqlDataSource DataSource { get; }
    public JobStore Store { get; }
    public RabbitManagement Rabbit { get; } = new();

    /// <summary>PostgreSQL's postmaster and the broker's OS process, when they run on this machine (for CPU accounting).</summary>
    public int? PostgresPid { get; private set; }

    public int? BrokerPid { get; private set; }

    /// <summary>True when <c>pg_stat_statements</c> could be enabled in the run's database.</summary>
    public bool HasStatementStatistics { get; private set; }

    /// <summary>Statements and transactions the benchmark itself ran (polling), to subtract from server counts.</summary>
    public long OwnTransactions => Interlocked.Read(ref ownTransactions);

    private long ownTransactions;

    public static async Task<BenchEnvironment> CreateAsync(int maxAutoPrepare)
    {
        var name = "cb_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = new NpgsqlConnection(StackSettings.AdminConnectionString))
        {
            try
            {
                await admin.OpenAsync();
            }
            catch (NpgsqlException ex)
            {
                throw new BenchUnavailableException(
                    $"PostgreSQL of the local stack is not reachable ({ex.Message}). Start it with: scripts/stack.sh up", ex);
            }

            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
            await create.ExecuteNonQueryAsync();
        }

        var environment = new BenchEnvironment(name, maxAutoPrepare);
        try
        {
            var options = new DbContextOptionsBuilder<ConsumersDbContext>().UseNpgsql(environment.ConnectionString).Options;
            await using (var db = new ConsumersDbContext(options))
            {
                await db.Database.MigrateAsync();
            }

            try
            {
                await environment.ExecuteAsync("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
                await environment.ScalarAsync<long>("SELECT count(*) FROM pg_stat_statements");
                environment.HasStatementStatistics = true;
            }
            catch (PostgresException)
            {
                // Not preloaded on this server: statement counts are reported as not measured.
            }

            environment.PostgresPid = ProcessCpu.ParentOf(await environment.ScalarAsync<int>("SELECT pg_backend_pid()"));
            environment.BrokerPid = await environment.Rabbit.BrokerPidAsync();
            try
            {
                await environment.Rabbit.CreateVirtualHostAsync(environment.VirtualHost);
            }
            catch (HttpRequestException ex)
            {
                throw new BenchUnavailableException(
                    $"RabbitMQ management at {StackSettings.ManagementUri} refused the virtual host ({ex.Message}). Is the stack up, are CONSUMERS_RABBIT_USER/PASS right?", ex);
            }
        }
        catch
        {
            await environment.DisposeAsync();
            throw;
        }

        return environment;
    }

    /// <summary>Settings of a worker process in this environment (as Consumers:... keys); <paramref name="overrides"/> win.</summary>
    public Dictionary<string, string?> WorkerSettings(string workerId, int concurrency, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Consumers:Database:ConnectionString"] = WorkerConnectionString,
            ["Consumers:RabbitMq:Host"] = StackSettings.RabbitHost,
            ["Consumers:RabbitMq:Port"] = StackSettings.RabbitPort.ToString(CultureInfo.InvariantCulture),
            ["Consumers:RabbitMq:VirtualHost"] = VirtualHost,
            ["Consumers:RabbitMq:Username"] = StackSettings.RabbitUser,
            ["Consumers:RabbitMq:Password"] = StackSettings.RabbitPassword,
            ["Consumers:RabbitMq:ConcurrentJobs"] = concurrency.ToString(CultureInfo.InvariantCulture),
            ["Consumers:Artifacts:Root"] = ArtifactRoot,
            ["Consumers:Artifacts:MediaRoots:0"] = MediaRoot,
            ["Consumers:Scratch:Root"] = ScratchRoot,
            ["Consumers:Worker:WorkerId"] = workerId,
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>Starts <c>consumers run</c> as its own process and waits until it is ready.</summary>
    public async Task<WorkerProcess> StartWorkerAsync(string workerId, int concurrency, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var worker = await WorkerProcess.StartAsync(WorkerSettings(workerId, concurrency, overrides), workerId, LogRoot);
        workers.Add(worker);
        return worker;
    }

    /// <summary>Stops every worker this environment started (SIGTERM, then SIGKILL after a grace period).</summary>
    public async Task StopWorkersAsync()
    {
        await Task.WhenAll(workers.Select(w => w.StopAsync(TimeSpan.FromSeconds(15))));
        foreach (var worker in workers)
        {
            await worker.DisposeAsync();
        }

        workers.Clear();
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(OwnStatementMarker + sql);
        Interlocked.Increment(ref ownTransactions);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = DataSource.CreateCommand(OwnStatementMarker + sql);
        foreach (var (parameterName, value) in parameters)
        {
            command.Parameters.AddWithValue(parameterName, value);
        }

        Interlocked.Increment(ref ownTransactions);
        var result = await command.ExecuteScalarAsync();
        return result is null or DBNull ? default! : (T)Convert.ChangeType(result, typeof(T), CultureInfo.InvariantCulture);
    }

    /// <summary>Runs a query of the benchmark's own and hands each row to <paramref name="read"/>.</summary>
    public async Task QueryAsync(string sql, Action<NpgsqlDataReader> read, params (string Name, object Value)[] parameters)
    {
        await using var command = DataSource.CreateCommand(OwnStatementMarker + sql);
        foreach (var (parameterName, value) in parameters)
        {
            command.Parameters.AddWithValue(parameterName, value);
        }

        Interlocked.Increment(ref ownTransactions);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            read(reader);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopWorkersAsync();
        await DataSource.DisposeAsync();
        try
        {
            await Rabbit.DeleteVirtualHostAsync(VirtualHost);
        }
        catch (HttpRequestException)
        {
        }

        Rabbit.Dispose();
        await using (var admin = new NpgsqlConnection(StackSettings.AdminConnectionString))
        {
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>The stack is not there or refuses us: exit code 4 with one clear line.</summary>
public sealed class BenchUnavailableException(string message, Exception inner) : Exception(message, inner);
