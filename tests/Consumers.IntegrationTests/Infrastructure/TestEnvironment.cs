using System.Globalization;
using Consumers.Contracts;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Persistence;
using Consumers.Runtime.Timeline;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Consumers.IntegrationTests.Infrastructure;

/// <summary>
/// One test's private corner of the real stack (a <see cref="StackSandbox"/>: its own database, virtual host and
/// folders) with the test's view of it: the job store, queries, and workers in or out of the test process.
/// Nothing is shared between tests, and everything but the logs is removed afterwards.
/// </summary>
public sealed class TestEnvironment : IAsyncDisposable
{
    private readonly StackSandbox sandbox;
    private readonly List<IAsyncDisposable> workers = [];

    private TestEnvironment(StackSandbox sandbox)
    {
        this.sandbox = sandbox;
        ConnectionString = sandbox.ConnectionString(b => b.MaxPoolSize = 50);
        DataSource = NpgsqlDataSource.Create(ConnectionString);
        Store = new JobStore(DataSource, new Runtime.Flow.Lanes.JobQueueName(Contracts.ContractNames.JobQueue));
    }

    public string VirtualHost => sandbox.VirtualHost;
    public string MediaRoot => sandbox.MediaRoot;
    public string ArtifactRoot => sandbox.ArtifactRoot;
    public string ScratchRoot => sandbox.ScratchRoot;

    /// <summary>Worker logs; kept after the test (under the system temp folder) so a failure can be read.</summary>
    public string LogRoot => sandbox.LogRoot;
    public RabbitManagement Rabbit => sandbox.Rabbit;
    public string ConnectionString { get; }
    public NpgsqlDataSource DataSource { get; }
    public JobStore Store { get; }

    /// <param name="adminConnectionString">A PostgreSQL server other than the stack's (a fault test's private one).</param>
    /// <param name="migrate">False: an empty database, as before the first <c>consumers migrate</c>.</param>
    public static async Task<TestEnvironment> CreateAsync(string? adminConnectionString = null, bool migrate = true) =>
        new(await StackSandbox.CreateAsync("ct_", "consumers-tests", adminConnectionString, migrate));

    /// <summary>Configuration for a worker in this environment; <paramref name="overrides"/> win.</summary>
    public Dictionary<string, string?> WorkerSettings(string workerId, IDictionary<string, string?>? overrides = null)
    {
        var settings = sandbox.WorkerSettings(workerId, ConnectionString);
        settings["Consumers:Telemetry:MetricsPort"] = "0";
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>Starts a worker inside the test process (the real host, real broker, real database).</summary>
    public async Task<InProcessWorker> StartWorkerAsync(string workerId = "worker-a", IDictionary<string, string?>? overrides = null)
    {
        var worker = await InProcessWorker.StartAsync(WorkerSettings(workerId, overrides), Path.Combine(LogRoot, workerId + ".log"));
        workers.Add(worker);
        return worker;
    }

    /// <summary>
    /// Starts <c>consumers run</c> as its own process, for tests that kill, freeze or terminate it with real signals;
    /// its output goes to <c>&lt;workerId&gt;.process.log</c> in <see cref="LogRoot"/>. Killed at the latest when the environment goes.
    /// </summary>
    public async Task<WorkerProcess> StartWorkerProcessAsync(string workerId, IDictionary<string, string?>? overrides = null, bool waitUntilReady = true)
    {
        var worker = await WorkerProcess.StartAsync(WorkerSettings(workerId, overrides), workerId, LogRoot, waitUntilReady: waitUntilReady);
        workers.Add(worker);
        return worker;
    }

    /// <summary>Writes a media file of <paramref name="size"/> deterministic bytes and returns its path.</summary>
    public string CreateMediaFile(string name, int size)
    {
        var path = Path.Combine(MediaRoot, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public static JobRequested ManifestJob(string source, string outputKey, Guid? jobId = null) => new()
    {
        JobId = jobId ?? Guid.CreateVersion7(),
        Stage = "manifest",
        Source = source,
        OutputKey = outputKey,
    };

    /// <summary>A job of the synthetic stage (parameters such as <c>durationMs</c>, <c>failCode</c>, <c>cpuMs</c>).</summary>
    public static JobRequested SyntheticJob(string outputKey, params (string Key, string Value)[] parameters) => new()
    {
        JobId = Guid.NewGuid(),
        Stage = "synthetic",
        OutputKey = outputKey,
        Parameters = parameters.ToDictionary(p => p.Key, p => p.Value),
    };

    public async Task<JobRecord?> JobAsync(Guid jobId)
    {
        await using var db = NewDbContext();
        return await db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == jobId);
    }

    public async Task<List<JobEventRecord>> TimelineAsync(Guid jobId)
    {
        await using var db = NewDbContext();
        return await db.JobEvents.AsNoTracking().Where(e => e.JobId == jobId).OrderBy(e => e.Seq).ToListAsync();
    }

    /// <summary>Checks every job's timeline in this environment against the rules; fails listing all violations.</summary>
    public async Task AssertAllTimelinesValidAsync()
    {
        await using var db = NewDbContext();
        var events = await db.JobEvents.AsNoTracking().OrderBy(e => e.JobId).ThenBy(e => e.Seq).ToListAsync();
        var violations = events.GroupBy(e => e.JobId).SelectMany(g => TimelineChecker.Check(g.Key, [.. g])).ToList();
        Assert.True(violations.Count == 0, "timeline violations:\n" + string.Join("\n", violations));
    }

    public async Task<long> CountAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    /// <summary>Waits until the job reaches a terminal status; fails the test after <paramref name="timeout"/> (a hang guard, not a timing assertion).</summary>
    public async Task<JobRecord> WaitForTerminalAsync(Guid jobId, TimeSpan? timeout = null)
    {
        JobRecord? job = null;
        await Eventually.WaitAsync(async () =>
        {
            job = await JobAsync(jobId);
            return job is not null && JobStatuses.IsTerminal(job.Status);
        }, timeout ?? TimeSpan.FromSeconds(90), () => $"job {jobId} did not finish; last status {job?.Status ?? "(no row)"}");
        return job!;
    }

    public ConsumersDbContext NewDbContext() =>
        new(new DbContextOptionsBuilder<ConsumersDbContext>().UseNpgsql(DataSource).Options);

    public async ValueTask DisposeAsync()
    {
        foreach (var worker in workers)
        {
            await worker.DisposeAsync();
        }

        await DataSource.DisposeAsync();
        await sandbox.DisposeAsync();
    }
}
