using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Consumers.Testing.Faults;

/// <summary>
/// A PostgreSQL 15 cluster of the test's own (initdb + pg_ctl as user postgres, data under /tmp, a free port on
/// 127.0.0.1) that a fault test may stop, kill and starve without touching the shared stack. It has the stack's
/// <c>consumers</c> role (login, createdb, not superuser, so it gets no reserved connections) and trusts local TCP.
/// </summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private const string BinFolder = "/usr/lib/postgresql/15/bin";

    private PrivatePostgres(string dataFolder, int port)
    {
        DataFolder = dataFolder;
        Port = port;
    }

    public string DataFolder { get; }

    public int Port { get; }

    /// <summary>As the <c>consumers</c> role, on the <c>postgres</c> database: what a sandbox is created with.</summary>
    public string AdminConnectionString => $"Host=127.0.0.1;Port={Port};Database=postgres;Username=consumers;Password=consumers;Pooling=false";

    /// <summary>As the superuser, for the test's own faults (terminating backends, reading statistics).</summary>
    public string SuperuserConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Database={database};Username=postgres;Pooling=false";

    /// <summary>True when PostgreSQL 15's initdb and pg_ctl are installed and the postgres user exists.</summary>
    public static bool IsAvailable => File.Exists(Path.Combine(BinFolder, "initdb")) && File.Exists(Path.Combine(BinFolder, "pg_ctl"));

    /// <summary>Creates and starts a cluster with <paramref name="maxConnections"/> connections.</summary>
    public static async Task<PrivatePostgres> StartAsync(int maxConnections = 100)
    {
        var folder = Path.Combine("/tmp", "consumers-pg-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(folder);
        await RunAsync("chown", "postgres:postgres", folder);
        var postgres = new PrivatePostgres(folder, FreePort());
        await AsPostgresAsync(Path.Combine(BinFolder, "initdb"), "-D", postgres.ClusterFolder, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync");
        await File.AppendAllTextAsync(Path.Combine(postgres.ClusterFolder, "postgresql.conf"),
            $"\nport = {postgres.Port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{folder}'\n" +
            $"max_connections = {maxConnections}\nfsync = off\nlog_min_messages = warning\n");
        await postgres.StartAgainAsync();
        await using (var connection = new NpgsqlConnection(postgres.SuperuserConnectionString()))
        {
            await connection.OpenAsync();
            await using var role = new NpgsqlCommand("CREATE ROLE consumers LOGIN CREATEDB PASSWORD 'consumers'", connection);
            await role.ExecuteNonQueryAsync();
        }

        return postgres;
    }

    private string ClusterFolder => Path.Combine(DataFolder, "data");

    /// <summary>pg_ctl start; waits until it accepts connections.</summary>
    public Task StartAgainAsync() =>
        AsPostgresAsync(Path.Combine(BinFolder, "pg_ctl"), "-D", ClusterFolder, "-l", Path.Combine(DataFolder, "server.log"), "-w", "-t", "60", "start");

    /// <summary>pg_ctl stop -m fast: sessions are terminated, the port closes (clients get "connection refused").</summary>
    public Task StopAsync() => AsPostgresAsync(Path.Combine(BinFolder, "pg_ctl"), "-D", ClusterFolder, "-m", "fast", "-w", "stop");

    /// <summary>SIGKILL of the postmaster: a crash; the next start recovers from the WAL.</summary>
    public async Task KillAsync()
    {
        var pid = int.Parse((await File.ReadAllLinesAsync(Path.Combine(ClusterFolder, "postmaster.pid")))[0], CultureInfo.InvariantCulture);
        await RunAsync("kill", "-9", pid.ToString(CultureInfo.InvariantCulture));
        // Its backends notice the postmaster is gone and exit by themselves within moments.
        await Task.Delay(TimeSpan.FromSeconds(1));
    }

    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAgainAsync();
    }

    /// <summary>Stops the cluster (immediately) and removes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await AsPostgresAsync(Path.Combine(BinFolder, "pg_ctl"), "-D", ClusterFolder, "-m", "immediate", "-w", "stop");
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }

        try
        {
            Directory.Delete(DataFolder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static Task AsPostgresAsync(string program, params string[] arguments) =>
        RunAsync("runuser", ["-u", "postgres", "--", program, .. arguments]);

    private static async Task RunAsync(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + program);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited {process.ExitCode}: {await output}{await error}");
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
