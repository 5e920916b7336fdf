using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Consumers.Bench.Infrastructure;

/// <summary>
/// A worker as its own operating-system process (<c>dotnet consumers.dll run</c>, the executable copied beside
/// the benchmark), configured through environment variables, with its output in a log file. Killed with real
/// signals, measured through /proc.
/// </summary>
public sealed partial class WorkerProcess : IAsyncDisposable
{
    private const int SigKill = 9;
    private const int SigTerm = 15;

    private readonly Process process;
    private readonly StreamWriter log;

    private WorkerProcess(Process process, StreamWriter log, string workerId, int metricsPort)
    {
        this.process = process;
        this.log = log;
        WorkerId = workerId;
        MetricsPort = metricsPort;
    }

    public string WorkerId { get; }

    public int MetricsPort { get; }

    public int Pid => process.Id;

    public bool HasExited => process.HasExited;

    public static async Task<WorkerProcess> StartAsync(IReadOnlyDictionary<string, string?> settings, string workerId, string logRoot)
    {
        var metricsPort = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "consumers.dll"));
        start.ArgumentList.Add("run");
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        start.Environment["Consumers__Telemetry__MetricsPort"] = metricsPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        var log = new StreamWriter(Path.Combine(logRoot, workerId + ".log"), append: true) { AutoFlush = false };
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the worker process");
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var worker = new WorkerProcess(process, log, workerId, metricsPort);
        await worker.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
        return worker;
    }

    /// <summary>SIGKILL: dies at once, mid-whatever.</summary>
    public async Task KillAsync()
    {
        Signal(SigKill);
        await process.WaitForExitAsync();
    }

    /// <summary>SIGTERM (a deploy), then SIGKILL if the drain takes longer than <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (process.HasExited)
        {
            return;
        }

        Signal(SigTerm);
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            await KillAsync();
        }
    }

    /// <summary>Resident set size in bytes (VmRSS of /proc/&lt;pid&gt;/status), or null when the process is gone.</summary>
    public long? ResidentBytes()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{process.Id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var kilobytes = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                    return kilobytes * 1024;
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    /// <summary>The worker's Prometheus text.</summary>
    public async Task<string> ScrapeAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync(new Uri($"http://127.0.0.1:{MetricsPort}/metrics"));
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            Signal(SigKill);
            await process.WaitForExitAsync();
        }

        process.Dispose();
        lock (log)
        {
            log.Dispose();
        }
    }

    private async Task WaitUntilReadyAsync(TimeSpan bound)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + bound;
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"worker {WorkerId} exited with {process.ExitCode} during start-up; see its log");
            }

            try
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{MetricsPort}/health/ready"));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"worker {WorkerId} did not become ready within {bound.TotalSeconds:F0}s");
            }

            await Task.Delay(50);
        }
    }

    private void Signal(int signal)
    {
        if (!process.HasExited && Kill(process.Id, signal) != 0 && !process.HasExited)
        {
            throw new InvalidOperationException($"kill({process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            if (log.BaseStream is { CanWrite: true })
            {
                log.WriteLine(line);
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
