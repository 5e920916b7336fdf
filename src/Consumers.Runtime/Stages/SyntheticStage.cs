using System.Globalization;
using System.Text.Json;
using Consumers.Runtime.Failures;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Stages;

/// <summary>
/// A stand-in for real work, for tests, demos and the benchmark: it waits <c>durationMs</c> (in
/// <c>steps</c> progress steps), keeps one CPU busy for <c>cpuMs</c> (a stand-in for an encoder), and writes a
/// small JSON file. <c>failCode</c> makes it fail with that error
/// code on attempts up to <c>failAttempts</c> (default: every attempt). It reads no source. With
/// <see cref="SyntheticOptions.TraceDirectory"/> set it records when each attempt's work starts and stops.
/// </summary>
public sealed class SyntheticStage(IOptions<SyntheticOptions> options) : IStage
{
    public const string StageName = "synthetic";

    public SyntheticStage()
        : this(Options.Create(new SyntheticOptions()))
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

    private static async Task<StageOutput> WorkAsync(StageContext context, CancellationToken cancellationToken)
    {
        var durationMs = Int(context, "durationMs", 0);
        var steps = Math.Max(1, Int(context, "steps", 10));
        for (var step = 1; step <= steps && durationMs > 0; step++)
        {
            await Task.Delay(durationMs / steps, cancellationToken);
            context.Progress.Report(100.0 * step / steps);
        }

        var cpuMs = Int(context, "cpuMs", 0);
        if (cpuMs > 0)
        {
            // Its own thread, so a burst of them cannot starve the thread pool the heartbeat runs on.
            await Task.Factory.StartNew(() => BurnCpu(TimeSpan.FromMilliseconds(cpuMs), cancellationToken), cancellationToken,
                TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        var failCode = context.Parameter("failCode");
        var failAttempts = Int(context, "failAttempts", int.MaxValue);
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

    private static int Int(StageContext context, string name, int fallback) =>
        int.TryParse(context.Parameter(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : fallback;
}
