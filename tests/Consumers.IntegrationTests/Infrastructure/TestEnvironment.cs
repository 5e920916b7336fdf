using System.Globalization;
using Consumers.Contracts;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Messaging;
using Consumers.Runtime.Persistence;
using Consumers.Runtime.Timeline;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Consumers.IntegrationTests.Infrastructure;

/// <summary>
/// One test's private corner of the real stack: a fresh PostgreSQL database with the schema migrated, a fresh
/// RabbitMQ virtual host, and its own media, artifact and scratch folders. Nothing is shared between tests,
/// and everything is removed afterwards.
/// </summary>
public sealed class TestEnvironment : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> workers = [];

    private TestEnvironment(string name)
    {
        Name = name;
        Root = Path.Combine(Path.GetTempPath(), "consumers-tests", name);
        Directory.CreateDirectory(MediaRoot);
        Directory.CreateDirectory(ArtifactRoot);
        Directory.CreateDirectory(ScratchRoot);
        Directory.CreateDirectory(LogRoot);
        ConnectionString = new NpgsqlConnectionStringBuilder(StackSettings.AdminConnectionString)
        {
            Database = name,
            MaxPoolSize = 50,
        }.ConnectionString;
        DataSource = NpgsqlDataSource.Create(ConnectionString);
        Store = new JobStore(DataSource, Microsoft.Extensions.Options.Options.Create(new RabbitMqOptions()));
    }

    public string Name { get; }
    public string VirtualHost => Name;
    public string Root { get; }
    public string MediaRoot => Path.Combine(Root, "media");
    public string ArtifactRoot => Path.Combine(Root, "artifacts");
    public string ScratchRoot => Path.Combine(Root, "scratch");

    /// <summary>Worker logs; kept after the test (under the system temp folder) so a failure can be read.</summary>
    public string LogRoot => Path.Combine(Path.GetTempPath(), "consumers-tests", "logs", Name);
    public string ConnectionString { get; }
    public NpgsqlDataSource DataSource { get; }
    public JobStore Store { get; }
    public RabbitManagement Rabbit { get; } = new();

    public static async Task<TestEnvironment> CreateAsync()
    {
        var name = "ct_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = new NpgsqlConnection(StackSettings.AdminConnectionString))
        {
            try
            {
                await admin.OpenAsync();
            }
            catch (NpgsqlException ex)
            {
                throw new InvalidOperationException(
                    $"PostgreSQL of the local stack is not reachable ({ex.Message}). Start it with: scripts/stack.sh up", ex);
            }

            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
            await create.ExecuteNonQueryAsync();
        }

        var environment = new TestEnvironment(name);
        var options = new DbContextOptionsBuilder<ConsumersDbContext>().UseNpgsql(environment.ConnectionString).Options;
        await using (var db = new ConsumersDbContext(options))
        {
            await db.Database.MigrateAsync();
        }

        await environment.Rabbit.CreateVirtualHostAsync(environment.VirtualHost);
        return environment;
    }

    /// <summary>Configuration for a worker in this environment; <paramref name="overrides"/> win.</summary>
    public Dictionary<string, string?> WorkerSettings(string workerId, IDictionary<string, string?>? overrides = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Consumers:Database:ConnectionString"] = ConnectionString,
            ["Consumers:RabbitMq:Host"] = StackSettings.RabbitHost,
            ["Consumers:RabbitMq:Port"] = StackSettings.RabbitPort.ToString(CultureInfo.InvariantCulture),
            ["Consumers:RabbitMq:VirtualHost"] = VirtualHost,
            ["Consumers:RabbitMq:Username"] = StackSettings.RabbitUser,
            ["Consumers:RabbitMq:Password"] = StackSettings.RabbitPassword,
            ["Consumers:Artifacts:Root"] = ArtifactRoot,
            ["Consumers:Artifacts:MediaRoots:0"] = MediaRoot,
            ["Consumers:Scratch:Root"] = ScratchRoot,
            ["Consumers:Telemetry:MetricsPort"] = "0",
            ["Consumers:Worker:WorkerId"] = workerId,
        };
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
        await Rabbit.DeleteVirtualHostAsync(VirtualHost);
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
