using System.Globalization;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Messaging;
using Npgsql;

namespace Consumers.Bench.Infrastructure;

/// <summary>
/// The run's private corner of the shared stack (a <see cref="StackSandbox"/>: its own database, virtual host and
/// folders), with <c>pg_stat_statements</c> when the server preloads it, and the worker processes it started.
/// Everything but the worker logs is removed afterwards.
/// </summary>
public sealed class BenchEnvironment : IAsyncDisposable
{
    /// <summary>Marks the benchmark's own statements so that per-job statement counts leave them out.</summary>
    public const string OwnStatementMarker = "/* bench */ ";

    private readonly StackSandbox sandbox;
    private readonly List<WorkerProcess> workers = [];

    private BenchEnvironment(StackSandbox sandbox, int maxAutoPrepare)
    {
        this.sandbox = sandbox;
        // The worker's connection string is the shipped appsettings.json one, pointed at this run's database.
        WorkerConnectionString = sandbox.ConnectionString(b =>
        {
            b.MaxPoolSize = 40;
            b.MaxAutoPrepare = maxAutoPrepare;
        });
        ConnectionString = sandbox.ConnectionString(b =>
        {
            b.MaxPoolSize = 60;
            b.MaxAutoPrepare = 64;
            b.ApplicationName = "consumers-bench";
            // Like the runtime's own pool: no session reset on every return.
            b.NoResetOnClose = true;
        });
        DataSource = NpgsqlDataSource.Create(ConnectionString);
        Store = new JobStore(DataSource, Microsoft.Extensions.Options.Options.Create(new RabbitMqOptions()));
    }

    public string Name => sandbox.Name;
    public string VirtualHost => sandbox.VirtualHost;
    public string LogRoot => sandbox.LogRoot;

    /// <summary>Where the run's workers may read sources from (their first media root).</summary>
    public string MediaRoot => sandbox.MediaRoot;
    public RabbitManagement Rabbit => sandbox.Rabbit;
    public string ConnectionString { get; }
    public string WorkerConnectionString { get; }
    public NpgsqlDataSource DataSource { get; }
    public JobStore Store { get; }

    /// <summary>PostgreSQL's postmaster and the broker's OS process, when they run on this machine (for CPU accounting).</summary>
    public int? PostgresPid { get; private set; }

    public int? BrokerPid { get; private set; }

    /// <summary>True when <c>pg_stat_statements</c> could be enabled in the run's database.</summary>
    public bool HasStatementStatistics { get; private set; }

    /// <summary>Statements and transactions the benchmark itself ran (polling), to subtract from server counts.</summary>
    public long OwnTransactions => Interlocked.Read(ref ownTransactions);

    private long ownTransactions;

    /// <exception cref="StackUnavailableException">PostgreSQL or RabbitMQ of the local stack is not there.</exception>
    /// <param name="adminConnectionString">Another PostgreSQL server than the stack's (a fault's private one).</param>
    public static async Task<BenchEnvironment> CreateAsync(int maxAutoPrepare, string? adminConnectionString = null)
    {
        var environment = new BenchEnvironment(await StackSandbox.CreateAsync("cb_", "consumers-bench", adminConnectionString), maxAutoPrepare);
        try
        {
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
        var settings = sandbox.WorkerSettings(workerId, WorkerConnectionString);
        settings["Consumers:RabbitMq:ConcurrentJobs"] = concurrency.ToString(CultureInfo.InvariantCulture);
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
        await sandbox.DisposeAsync();
    }
}
