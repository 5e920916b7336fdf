using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Consumers.Bench.Infrastructure;
using Npgsql;

namespace Consumers.Bench.Sections;

/// <summary>
/// The peer: bench/Consumers.Bench.Hangfire (Hangfire.Core 1.8.25 + Hangfire.PostgreSql 1.21.1) as its own process,
/// on the run's database in a schema of its own, with no-op jobs. Built with the benchmark (a build-only project
/// reference), never referenced by the runtime.
/// </summary>
public static class HangfirePeer
{
    /// <param name="Label">What was varied, e.g. "defaults" or "50 ms poll".</param>
    public sealed record PeerRun(string Label, double? JobsPerSecond, int Workers, double QueuePollMs, double ProcessCpuMsPerJob, double TransactionsPerJob, bool Finished, string? Error)
    {
        public string Describe() => Error is not null
            ? "FAILED: " + Error
            : string.Create(CultureInfo.InvariantCulture,
                $"{(Finished ? "" : "NOT FINISHED; ")}{Workers} workers, QueuePollInterval {QueuePollMs:F0} ms; Hangfire process {ProcessCpuMsPerJob:F2} ms CPU/job, {TransactionsPerJob:F1} transactions/job");

        /// <summary>Reads the one JSON object the peer prints.</summary>
        public static PeerRun Parse(string label, string json)
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            return new PeerRun(label,
                root.GetProperty("jobsPerSecond").ValueKind == JsonValueKind.Number ? root.GetProperty("jobsPerSecond").GetDouble() : null,
                root.GetProperty("workers").GetInt32(),
                root.GetProperty("queuePollMs").GetDouble(),
                root.GetProperty("processCpuMsPerJob").GetDouble(),
                root.GetProperty("transactionsPerJob").GetDouble(),
                root.GetProperty("finished").GetBoolean(),
                null);
        }
    }

    /// <param name="pollMilliseconds">0 keeps Hangfire.PostgreSql's default QueuePollInterval.</param>
    public static async Task<PeerRun> RunAsync(BenchEnvironment environment, string label, string schema, int jobs, int pollMilliseconds)
    {
        var dll = PeerAssembly();
        if (!File.Exists(dll))
        {
            return new PeerRun(label, null, 0, 0, 0, 0, false, $"{dll} is not built (dotnet build bench/Consumers.Bench.Hangfire -c Release)");
        }

        var connection = new NpgsqlConnectionStringBuilder(environment.WorkerConnectionString) { ApplicationName = "hangfire-peer", MaxAutoPrepare = 0 }.ConnectionString;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[]
                 {
                     dll, "--connection", connection, "--schema", schema,
                     "--jobs", jobs.ToString(CultureInfo.InvariantCulture), "--poll-ms", pollMilliseconds.ToString(CultureInfo.InvariantCulture),
                 })
        {
            start.ArgumentList.Add(argument);
        }

        Progress.Line($"throughput: Hangfire peer, {label}, {jobs} no-op jobs");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(Math.Max(300, jobs / 2.0)));
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }

        var output = (await stdout).Trim();
        var errors = await stderr;
        var line = output.Split('\n').LastOrDefault(l => l.TrimStart().StartsWith('{'));
        if (line is null)
        {
            return new PeerRun(label, null, 0, 0, 0, 0, false, $"exit {process.ExitCode}: {Tail(errors)}");
        }

        var run = PeerRun.Parse(label, line);
        Progress.Line(string.Create(CultureInfo.InvariantCulture, $"throughput: Hangfire {label}: {run.JobsPerSecond:F0} jobs/s"));
        return run;
    }

    private static string Tail(string text) => text.Length > 400 ? text[^400..] : text;

    /// <summary>bench/Consumers.Bench.Hangfire/bin/&lt;same configuration&gt;/net10.0/consumers-bench-hangfire.dll.</summary>
    private static string PeerAssembly()
    {
        var ownFolder = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = ownFolder.Name;
        var configuration = ownFolder.Parent?.Name ?? "Release";
        return Path.Combine(StackSettings.RepositoryRoot, "bench", "Consumers.Bench.Hangfire", "bin", configuration, framework, "consumers-bench-hangfire.dll");
    }
}
