using System.Globalization;
using Consumers.Runtime.Persistence;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Consumers.Testing.Stack;

/// <summary>
/// One run's private corner of the shared local stack: a fresh PostgreSQL database with the schema migrated, a
/// fresh RabbitMQ virtual host (both named <see cref="Name"/>), and its own media, artifact, scratch and log
/// folders. Disposing removes everything but the logs, which stay for reading after a failure.
/// </summary>
public sealed class StackSandbox : IAsyncDisposable
{
    private readonly string adminConnectionString;

    private StackSandbox(string name, string tempFolder, string adminConnectionString)
    {
        this.adminConnectionString = adminConnectionString;
        Name = name;
        Root = Path.Combine(Path.GetTempPath(), tempFolder, name);
        LogRoot = Path.Combine(Path.GetTempPath(), tempFolder, "logs", name);
        Directory.CreateDirectory(MediaRoot);
        Directory.CreateDirectory(ArtifactRoot);
        Directory.CreateDirectory(ScratchRoot);
        Directory.CreateDirectory(LogRoot);
    }

    /// <summary>The database and the virtual host.</summary>
    public string Name { get; }

    public string VirtualHost => Name;

    public string Root { get; }

    public string MediaRoot => Path.Combine(Root, "media");

    public string ArtifactRoot => Path.Combine(Root, "artifacts");

    public string ScratchRoot => Path.Combine(Root, "scratch");

    public string LogRoot { get; }

    public RabbitManagement Rabbit { get; } = new();

    /// <summary>
    /// Creates the database (named <paramref name="namePrefix"/> and a random suffix), migrates it and creates the
    /// virtual host; folders go under <paramref name="tempFolder"/> in the system temp folder.
    /// </summary>
    /// <exception cref="StackUnavailableException">PostgreSQL or the RabbitMQ management API is not there or refuses us.</exception>
    /// <param name="adminConnectionString">Another PostgreSQL server than the stack's (a fault test's private one).</param>
    /// <param name="migrate">False leaves the database empty, as before a first <c>consumers migrate</c>.</param>
    public static async Task<StackSandbox> CreateAsync(string namePrefix, string tempFolder, string? adminConnectionString = null, bool migrate = true)
    {
        var name = namePrefix + Guid.NewGuid().ToString("N")[..12];
        adminConnectionString ??= StackSettings.AdminConnectionString;
        await using (var admin = new NpgsqlConnection(adminConnectionString))
        {
            try
            {
                await admin.OpenAsync();
            }
            catch (NpgsqlException ex)
            {
                throw new StackUnavailableException(
                    $"PostgreSQL of the local stack is not reachable ({ex.Message}). Start it with: scripts/stack.sh up", ex);
            }

            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
            await create.ExecuteNonQueryAsync();
        }

        var sandbox = new StackSandbox(name, tempFolder, adminConnectionString);
        try
        {
            var options = new DbContextOptionsBuilder<ConsumersDbContext>().UseNpgsql(sandbox.ConnectionString()).Options;
            if (migrate)
            {
                await using var db = new ConsumersDbContext(options);
                await db.Database.MigrateAsync();
            }

            try
            {
                await sandbox.Rabbit.CreateVirtualHostAsync(sandbox.VirtualHost);
            }
            catch (HttpRequestException ex)
            {
                throw new StackUnavailableException(
                    $"RabbitMQ management at {StackSettings.ManagementUri} refused the virtual host ({ex.Message}). Is the stack up, are CONSUMERS_RABBIT_USER/PASS right?", ex);
            }
        }
        catch
        {
            await sandbox.DisposeAsync();
            throw;
        }

        return sandbox;
    }

    /// <summary>A connection string for the sandbox's database as the stack's admin user; <paramref name="configure"/> sets pool sizes and the like.</summary>
    public string ConnectionString(Action<NpgsqlConnectionStringBuilder>? configure = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = Name, Pooling = true };
        configure?.Invoke(builder);
        return builder.ConnectionString;
    }

    /// <summary>The settings (as <c>Consumers:...</c> keys) that point a worker at this sandbox.</summary>
    public Dictionary<string, string?> WorkerSettings(string workerId, string connectionString) => new()
    {
        ["Consumers:Database:ConnectionString"] = connectionString,
        ["Consumers:RabbitMq:Host"] = StackSettings.RabbitHost,
        ["Consumers:RabbitMq:Port"] = StackSettings.RabbitPort.ToString(CultureInfo.InvariantCulture),
        ["Consumers:RabbitMq:VirtualHost"] = VirtualHost,
        ["Consumers:RabbitMq:Username"] = StackSettings.RabbitUser,
        ["Consumers:RabbitMq:Password"] = StackSettings.RabbitPassword,
        ["Consumers:Artifacts:Root"] = ArtifactRoot,
        ["Consumers:Artifacts:MediaRoots:0"] = MediaRoot,
        ["Consumers:Scratch:Root"] = ScratchRoot,
        ["Consumers:Worker:WorkerId"] = workerId,
    };

    /// <summary>Drops the virtual host, the database (closing connections still open) and the folders but the logs.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await Rabbit.DeleteVirtualHostAsync(VirtualHost);
        }
        catch (HttpRequestException)
        {
            // A leftover virtual host is harmless; the database below matters more.
        }

        Rabbit.Dispose();
        await using (var admin = new NpgsqlConnection(adminConnectionString))
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

/// <summary>The local stack is not there or refuses us (the bench exits 4 on it).</summary>
public sealed class StackUnavailableException(string message, Exception inner) : Exception(message, inner);
