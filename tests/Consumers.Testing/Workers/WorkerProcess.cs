using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Consumers.Testing.Workers;

/// <summary>
/// A worker as its own operating-system process (<c>dotnet consumers.dll run</c>, the executable copied beside
/// the calling assembly), configured through environment variables, its output in a log file, stopped and
/// killed with real signals.
/// </summary>
public sealed partial class WorkerProcess : IAsyncDisposable
{
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private const int SigStop = 19;
    private const int SigCont = 18;

    private readonly Process process;
    private readonly StreamWriter log;
    private readonly Timer flusher;
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private bool disposed;

    private WorkerProcess(Process process, StreamWriter log, string workerId, int metricsPort, string logFile)
    {
        this.process = process;
        this.log = log;
        WorkerId = workerId;
        MetricsPort = metricsPort;
        LogFile = logFile;
        // A busy worker logs too much to flush every line; once a second still lets a waiting test read it.
        flusher = new Timer(_ => Flush(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public string WorkerId { get; }

    public int MetricsPort { get; }

    /// <summary>The worker's standard output and error: <c>&lt;logRoot&gt;/&lt;workerId&gt;.process.log</c>.</summary>
    public string LogFile { get; }

    public int Pid => process.Id;

    public bool HasExited => process.HasExited;

    public int ExitCode => process.ExitCode;

    /// <summary>
    /// Starts <c>consumers run</c> with <paramref name="settings"/> (<c>Consumers:...</c> keys) on a free metrics
    /// port and waits until its readiness probe answers; a worker that exits or is not ready in time is killed and
    /// the start fails.
    /// </summary>
    /// <param name="waitUntilReady">False: return as soon as the process runs (for tests of a worker that must not become ready).</param>
    public static async Task<WorkerProcess> StartAsync(
        IEnumerable<KeyValuePair<string, string?>> settings, string workerId, string logRoot, TimeSpan? readyTimeout = null, bool waitUntilReady = true)
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
            // Environment variables, not arguments: they are not visible in ps and keep the command line short.
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        start.Environment["Consumers__Telemetry__MetricsPort"] = metricsPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        Directory.CreateDirectory(logRoot);
        var logFile = Path.Combine(logRoot, workerId + ".process.log");
        var log = new StreamWriter(logFile, append: true);
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the worker process");
        var worker = new WorkerProcess(process, log, workerId, metricsPort, logFile);
        process.OutputDataReceived += (_, e) => worker.Write(e.Data);
        process.ErrorDataReceived += (_, e) => worker.Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        if (!waitUntilReady)
        {
            return worker;
        }

        try
        {
            await worker.WaitUntilReadyAsync(readyTimeout ?? TimeSpan.FromSeconds(90));
        }
        catch
        {
            await worker.DisposeAsync();
            throw;
        }

        return worker;
    }

    /// <summary>SIGKILL: the process dies at once, mid-whatever, like an OOM kill or a lost node.</summary>
    public async Task KillAsync()
    {
        Signal(SigKill);
        await process.WaitForExitAsync();
    }

    /// <summary>SIGTERM: what a deploy sends. Does not wait; see <see cref="StopAsync"/>.</summary>
    public void Terminate() => Signal(SigTerm);

    /// <summary>SIGTERM, then SIGKILL if the drain takes longer than <paramref name="grace"/>.</summary>
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

    /// <summary>SIGSTOP: the process is frozen (a long GC pause, a stalled VM) but not dead.</summary>
    public void Freeze() => Signal(SigStop);

    /// <summary>SIGCONT: a frozen process runs on.</summary>
    public void Thaw() => Signal(SigCont);

    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => process.WaitForExitAsync(cancellationToken);

    /// <summary>The worker's Prometheus text.</summary>
    public Task<string> ScrapeAsync() => http.GetStringAsync(new Uri($"http://127.0.0.1:{MetricsPort}/metrics"));

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

    /// <summary>Kills the process if it still runs (thawing it first) and closes its log; safe to call twice.</summary>
    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        if (!process.HasExited)
        {
            Signal(SigCont);
            Signal(SigKill);
            await process.WaitForExitAsync();
        }

        await flusher.DisposeAsync();
        process.Dispose();
        http.Dispose();
        lock (log)
        {
            disposed = true;
            log.Dispose();
        }
    }

    /// <summary>
    /// The worker's output so far, flushed first. A line the worker has just printed can still be on its way
    /// (its console logger writes on a queue, the pipe is read asynchronously): wait for it, never assert it once.
    /// </summary>
    public string ReadLog()
    {
        Flush();
        if (!File.Exists(LogFile))
        {
            return "";
        }

        using var stream = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The status code <c>/health/ready</c> answers with now, or null when nothing answers.</summary>
    public async Task<int?> ReadyStatusAsync()
    {
        try
        {
            using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{MetricsPort}/health/ready"), attempt.Token);
            return (int)response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Waits until the readiness probe answers 200; fails when the process exits or <paramref name="bound"/> passes.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan bound)
    {
        var ready = new Uri($"http://127.0.0.1:{MetricsPort}/health/ready");
        var deadline = DateTime.UtcNow + bound;
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"worker {WorkerId} exited with {process.ExitCode} during start-up; see {LogFile}");
            }

            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                using var response = await http.GetAsync(ready, attempt.Token);
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
                throw new TimeoutException($"worker {WorkerId} did not become ready within {bound.TotalSeconds:F0}s; see {LogFile}");
            }

            await Task.Delay(50);
        }
    }

    private void Signal(int signal)
    {
        // The process may exit between the check and kill(2); only a live process refusing a signal is an error.
        if (!process.HasExited && Kill(process.Id, signal) != 0 && !process.HasExited)
        {
            throw new InvalidOperationException($"kill({process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private void Write(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            if (!disposed)
            {
                log.WriteLine(line);
            }
        }
    }

    private void Flush()
    {
        lock (log)
        {
            if (!disposed)
            {
                log.Flush();
            }
        }
    }

    /// <summary>A TCP port on loopback that nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
