using System.Diagnostics;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace Consumers.IntegrationTests.Infrastructure;

/// <summary>
/// A worker as its own operating-system process (<c>consumers run</c>), for tests that kill, freeze or
/// terminate it with real signals. Its output goes to a log file in the test environment.
/// </summary>
public sealed partial class WorkerProcess : IAsyncDisposable
{
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private const int SigStop = 19;
    private const int SigCont = 18;

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

    public int ExitCode => process.ExitCode;

    /// <summary>Starts <c>consumers run</c> with the environment's settings and waits until its readiness probe answers.</summary>
    public static async Task<WorkerProcess> StartAsync(TestEnvironment environment, string workerId, IDictionary<string, string?>? overrides = null)
    {
        var metricsPort = FreePort();
        var settings = environment.WorkerSettings(workerId, overrides);
        settings["Consumers:Telemetry:MetricsPort"] = metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture);

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

        var log = new StreamWriter(Path.Combine(environment.LogRoot, workerId + ".process.log"), append: true) { AutoFlush = true };
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the worker process");
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var worker = new WorkerProcess(process, log, workerId, metricsPort);
        await worker.WaitUntilReadyAsync();
        return worker;
    }

    /// <summary>SIGKILL: the process dies at once, mid-whatever, like an OOM kill or a lost node.</summary>
    public async Task KillAsync()
    {
        Signal(SigKill);
        await process.WaitForExitAsync();
    }

    /// <summary>SIGTERM: what a deploy sends.</summary>
    public void Terminate() => Signal(SigTerm);

    /// <summary>SIGSTOP: the process is frozen (a long GC pause, a stalled VM) but not dead.</summary>
    public void Freeze() => Signal(SigStop);

    public void Thaw() => Signal(SigCont);

    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => process.WaitForExitAsync(cancellationToken);

    /// <summary>Reads the worker's Prometheus endpoint.</summary>
    public async Task<string> ScrapeAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync(new Uri($"http://127.0.0.1:{MetricsPort}/metrics"));
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            Signal(SigCont);
            Signal(SigKill);
            await process.WaitForExitAsync();
        }

        process.Dispose();
        lock (log)
        {
            log.Dispose();
        }
    }

    private async Task WaitUntilReadyAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.WaitAsync(async () =>
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"worker {WorkerId} exited with {process.ExitCode} during start-up; see its log");
            }

            try
            {
                var response = await http.GetAsync(new Uri($"http://127.0.0.1:{MetricsPort}/health/ready"));
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(90), () => $"worker {WorkerId} did not become ready");
    }

    private void Signal(int signal)
    {
        if (!process.HasExited && Kill(process.Id, signal) != 0)
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
            if (log.BaseStream.CanWrite)
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
