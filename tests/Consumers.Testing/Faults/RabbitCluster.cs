using System.Diagnostics;
using System.Globalization;
using System.Text;
using Consumers.Testing.Stack;

namespace Consumers.Testing.Faults;

/// <summary>
/// A private RabbitMQ cluster for fault tests, run by <c>scripts/rabbit-cluster.sh</c> (the script an operator uses
/// too): its own nodes, ports, epmd and folder, never the shared stack's broker. Disposing stops every node and
/// deletes the folder, whatever happened before.
/// </summary>
public sealed class RabbitCluster : IAsyncDisposable
{
    /// <summary>AMQP and management ports of node 1; node i adds i - 1 (the script's defaults).</summary>
    private const int AmqpBase = 56741;
    private const int ManagementBase = 15741;

    private readonly string folder;
    private readonly string logFile;
    private bool disposed;

    private RabbitCluster(int size, string folder, string logFile)
    {
        Size = size;
        this.folder = folder;
        this.logFile = logFile;
    }

    public int Size { get; }

    /// <summary>Every node as <c>host:port</c>, in order: what <c>Consumers:RabbitMq:Nodes</c> takes.</summary>
    public IReadOnlyList<string> Nodes => [.. Enumerable.Range(1, Size).Select(i => $"127.0.0.1:{AmqpBase + i - 1}")];

    /// <summary>RabbitMQ's name of node <paramref name="node"/> (1-based), as the management API reports it.</summary>
    public static string NodeName(int node) => $"consumers-c{node}@localhost";

    /// <summary>The 1-based number of a node named as the management API names it.</summary>
    public static int NodeNumber(string nodeName) =>
        int.Parse(nodeName["consumers-c".Length..nodeName.IndexOf('@', StringComparison.Ordinal)], CultureInfo.InvariantCulture);

    public static Uri ManagementUri(int node) => new($"http://127.0.0.1:{ManagementBase + node - 1}/");

    /// <summary>
    /// Starts the cluster and waits until its nodes form one cluster; the script's output goes to
    /// <c>rabbit-cluster.log</c> under <paramref name="logRoot"/>.
    /// </summary>
    /// <exception cref="ClusterUnavailableException">It did not come up within <paramref name="bound"/>; the message says why.</exception>
    public static async Task<RabbitCluster> StartAsync(string logRoot, TimeSpan bound, int size = 3)
    {
        Directory.CreateDirectory(logRoot);
        // A folder of its own: 'up' reuses a running cluster in the same folder, and 'down' deletes it.
        var cluster = new RabbitCluster(size, Path.Combine(Path.GetTempPath(), "consumers-cluster-tests"), Path.Combine(logRoot, "rabbit-cluster.log"));
        // A cluster left by an earlier run that died is removed first: this run starts from empty nodes.
        await cluster.RunAsync(TimeSpan.FromSeconds(60), "down");
        var (exitCode, output) = await cluster.RunAsync(bound, "up");
        if (exitCode is not null and not 0)
        {
            // Once more from empty nodes: a node can lose its port to another process's outgoing connection (the
            // scripts keep their ports out of the ephemeral range where the kernel lets them, not everywhere).
            await cluster.RunAsync(TimeSpan.FromSeconds(60), "down");
            (exitCode, output) = await cluster.RunAsync(bound, "up");
        }

        if (exitCode != 0)
        {
            await cluster.DisposeAsync();
            var tail = string.Join('\n', output.Split('\n').TakeLast(25));
            throw new ClusterUnavailableException(exitCode is null
                ? $"the local RabbitMQ cluster did not start within {bound.TotalSeconds:F0}s (scripts/rabbit-cluster.sh up); see {cluster.logFile}:\n{tail}"
                : $"the local RabbitMQ cluster did not start (scripts/rabbit-cluster.sh up exited {exitCode}); see {cluster.logFile}:\n{tail}");
        }

        return cluster;
    }

    /// <summary>SIGKILL of node <paramref name="node"/>'s Erlang VM: the machine is gone, its sockets close.</summary>
    public async Task KillNodeAsync(int node)
    {
        var (exitCode, output) = await RunAsync(TimeSpan.FromSeconds(30), "kill", node.ToString(CultureInfo.InvariantCulture));
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"could not kill node {node}: {output}");
        }
    }

    /// <summary>Starts node <paramref name="node"/> again after a kill and waits until it runs (it rejoins the cluster).</summary>
    public async Task StartNodeAsync(int node, TimeSpan bound)
    {
        var (exitCode, output) = await RunAsync(bound, "start", node.ToString(CultureInfo.InvariantCulture));
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"could not start node {node} again ({exitCode?.ToString(CultureInfo.InvariantCulture) ?? "timed out"}): {output}");
        }
    }

    /// <summary>The management API of node <paramref name="node"/>; the caller disposes it.</summary>
    public RabbitManagement Management(int node) =>
        node >= 1 && node <= Size
            ? new(ManagementUri(node), TimeSpan.FromSeconds(10))
            : throw new ArgumentOutOfRangeException(nameof(node), node, $"the cluster has nodes 1-{Size}");

    /// <summary>Stops every node and deletes the cluster's folder; safe to call twice.</summary>
    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        var (exitCode, output) = await RunAsync(TimeSpan.FromSeconds(60), "down");
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"scripts/rabbit-cluster.sh down failed ({exitCode?.ToString(CultureInfo.InvariantCulture) ?? "timed out"}): {output}");
        }
    }

    /// <summary>Runs the script; the exit code is null when it did not finish within <paramref name="bound"/> (it is then killed).</summary>
    private async Task<(int? ExitCode, string Output)> RunAsync(TimeSpan bound, params string[] arguments)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(StackSettings.RepositoryRoot, "scripts", "rabbit-cluster.sh"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["CONSUMERS_CLUSTER_DIR"] = folder;
        start.Environment["CONSUMERS_CLUSTER_NODES"] = Size.ToString(CultureInfo.InvariantCulture);
        // The script gives up a little before the caller does, so its own message explains a slow start.
        start.Environment["CONSUMERS_CLUSTER_START_TIMEOUT"] = Math.Max(10, (int)bound.TotalSeconds - 10).ToString(CultureInfo.InvariantCulture);
        start.Environment["NO_COLOR"] = "1";
        start.Environment["CONSUMERS_RABBIT_USER"] = StackSettings.RabbitUser;
        start.Environment["CONSUMERS_RABBIT_PASS"] = StackSettings.RabbitPassword;

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        int? exitCode;
        using (var timeout = new CancellationTokenSource(bound))
        {
            try
            {
                await process.WaitForExitAsync(timeout.Token);
                exitCode = process.ExitCode;
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                exitCode = null;
            }
        }

        string text;
        lock (output)
        {
            text = output.ToString();
        }

        await File.AppendAllTextAsync(logFile, $"$ rabbit-cluster.sh {string.Join(' ', arguments)} -> {exitCode?.ToString(CultureInfo.InvariantCulture) ?? "timed out"}\n{text}\n");
        return (exitCode, text);
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }
}

/// <summary>The private RabbitMQ cluster could not be started on this machine.</summary>
public sealed class ClusterUnavailableException(string message) : Exception(message);
