using System.Globalization;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Jobs;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Stages;

/// <summary>
/// A stand-in for real work, for tests, demos and the benchmark: it waits <c>durationMs</c> (in
/// <c>steps</c> progress steps), keeps one CPU busy for <c>cpuMs</c> (a stand-in for an encoder), and writes a
/// small JSON file. <c>failCode</c> makes it fail with that error
/// code on attempts up to <c>failAttempts</c> (default: every attempt). <c>crashProcess=true</c> kills the worker
/// process itself (SIGKILL, as the OOM killer would) once the wait is over, on workers that allow it
/// (<c>Consumers:Worker:AllowCrashParameter</c>; otherwise it is INVALID_REQUEST): a poison job for fault drills.
/// It reads no source. With <see cref="SyntheticOptions.TraceDirectory"/> set it records when each attempt's work
/// starts and stops.
/// </summary>
public sealed class SyntheticStage(IOptions<SyntheticOptions> options, IOptions<WorkerOptions> workerOptions) : IStage
{
    public const int MaxDurationMs = 24 * 60 * 60 * 1000;
    public const int MaxSteps = 1000;
    public const int MaxCpuMs = 60 * 60 * 1000;

    public const string StageName = "synthetic";

    public SyntheticStage()
        : this(Options.Create(new SyntheticOptions()), Options.Create(new WorkerOptions()))
    {
    }

    public string Name => StageName;

    public bool NeedsSource => false;

    public async Task<StageOutput> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        Trace(context, "start");
        var outcome = "failed";
        try
        {
            var output = await WorkAsync(context, cancellationToken);
            outcome = "completed";
            return output;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            outcome = "cancelled";
            throw;
        }
        finally
        {
            Trace(context, "end", outcome);
        }
    }

    private async Task<StageOutput> WorkAsync(StageContext context, CancellationToken cancellationToken)
    {
        var durationMs = StageParameters.WholeNumber(context, "durationMs", 0, 0, MaxDurationMs);
        var steps = StageParameters.WholeNumber(context, "steps", 10, 1, MaxSteps);
        var cpuMs = StageParameters.WholeNumber(context, "cpuMs", 0, 0, MaxCpuMs);
        var failAttempts = StageParameters.WholeNumber(context, "failAttempts", int.MaxValue, 0, int.MaxValue);
        var crash = StageParameters.Flag(context, "crashProcess");
        if (crash && !workerOptions.Value.AllowCrashParameter)
        {
            throw new JobFailureException(ErrorCodes.InvalidRequest,
                "parameters.crashProcess is refused: this worker does not allow it (Consumers:Worker:AllowCrashParameter)")
            { Field = "parameters.crashProcess" };
        }

        for (var step = 1; step <= steps && durationMs > 0; step++)
        {
            await Task.Delay(durationMs / steps, cancellationToken);
            context.Progress.Report(100.0 * step / steps);
        }

        if (cpuMs > 0)
        {
            // Its own thread, so a burst of them cannot starve the thread pool the heartbeat runs on.
            await Task.Factory.StartNew(() => BurnCpu(TimeSpan.FromMilliseconds(cpuMs), cancellationToken), cancellationToken,
                TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        if (crash)
        {
            // No drain, no finally blocks: the process dies as a poison job would kill it.
            System.Diagnostics.Process.GetCurrentProcess().Kill();
        }

        var failCode = context.Parameter("failCode");
        if (!string.IsNullOrEmpty(failCode) && context.Attempt <= failAttempts)
        {
            throw new JobFailureException(failCode, $"synthetic failure on attempt {context.Attempt}");
        }

        var output = Path.Combine(context.ScratchDirectory, "synthetic.json");
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new { context.JobId, durationMs }, ContractJson.Options), cancellationToken);
        return new StageOutput(output);
    }

    // One line per event, appended and closed at once, so a reader in another process sees it as soon as the work stops.
    private void Trace(StageContext context, string step, string? outcome = null)
    {
        if (string.IsNullOrEmpty(options.Value.TraceDirectory))
        {
            return;
        }

        var line = string.Create(CultureInfo.InvariantCulture,
            $"{step} attempt={context.Attempt} at={DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}{(outcome is null ? "" : " outcome=" + outcome)}\n");
        Directory.CreateDirectory(options.Value.TraceDirectory);
        File.AppendAllText(Path.Combine(options.Value.TraceDirectory, context.JobId.ToString("D") + ".trace"), line);
    }

    // Spins for this much of its own thread's CPU time (Linux; wall time elsewhere), so a crowded machine
    // stretches the job as it would an encoder.
    private static void BurnCpu(TimeSpan cpu, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var start = ThreadCpuTime();
        var x = 1.0;
        while ((start is { } s && ThreadCpuTime() is { } now ? now - s : clock.Elapsed) < cpu)
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (var i = 0; i < 20_000; i++)
            {
                x = Math.Sqrt(x + i);
            }
        }

        GC.KeepAlive(x);
    }

    // utime + stime of the calling thread, from /proc/thread-self/stat (in clock ticks of 10 ms).
    private static TimeSpan? ThreadCpuTime()
    {
        try
        {
            var stat = File.ReadAllText("/proc/thread-self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromMilliseconds(ticks * 10);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
