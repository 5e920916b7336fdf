using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Consumers.Bench;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;
using Consumers.Bench.Sections;

var only = new Option<string?>("--only") { Description = "Sections to run, comma-separated: " + string.Join(",", BenchOptions.AllSections) + " (default: all but long-jobs)" };
var jobs = new Option<int>("--jobs") { Description = "No-op jobs per throughput run (enough that start-up compilation is a small part of the figure)", DefaultValueFactory = _ => 10_000 };
var baselineMessages = new Option<int>("--baseline-messages") { Description = "Messages in the pre-filled queue of the consumer baselines", DefaultValueFactory = _ => 5000 };
var baselineRuns = new Option<int>("--baseline-runs") { Description = "Repetitions of each baseline (the median is reported)", DefaultValueFactory = _ => 3 };
var throughputRuns = new Option<int>("--throughput-runs") { Description = "Repetitions of each throughput run", DefaultValueFactory = _ => 1 };
var workers = new Option<string>("--workers") { Description = "Worker process counts of the throughput section", DefaultValueFactory = _ => "1,2" };
var concurrency = new Option<int>("--concurrency") { Description = "Jobs one worker runs at once (prefetch follows it)", DefaultValueFactory = _ => new BenchOptions().Concurrency };
var commitConnections = new Option<int?>("--commit-connections") { Description = "Connections of the raw commit baseline (default: --concurrency)" };
var commitSeconds = new Option<int>("--commit-seconds") { Description = "Duration of the raw commit baseline", DefaultValueFactory = _ => 10 };
var latencyRate = new Option<double?>("--latency-rate") { Description = "Offered jobs/s of the latency section (default: half the measured 1-worker saturation)" };
var latencySeconds = new Option<int>("--latency-seconds") { Description = "How long the latency section offers load", DefaultValueFactory = _ => 20 };
var mediaClips = new Option<int>("--media-clips") { Description = "720p clips with audio the media section transcodes to 240p, plain and as jobs", DefaultValueFactory = _ => 6 };
var mediaSeconds = new Option<int>("--media-seconds") { Description = "Length of each media clip in seconds", DefaultValueFactory = _ => 30 };
var hangfireJobs = new Option<int>("--hangfire-jobs") { Description = "No-op jobs of each Hangfire peer run in the throughput section (0: skip the peer)", DefaultValueFactory = _ => 2000 };
var recoveryKills = new Option<int>("--recovery-kills") { Description = "SIGKILLs of the recovery section", DefaultValueFactory = _ => 5 };
var faultRuns = new Option<int>("--fault-runs") { Description = "Times the faults section injects each fault", DefaultValueFactory = _ => 5 };
var faults = new Option<string?>("--faults") { Description = "Fault kinds of the faults section, comma-separated: " + string.Join(",", BenchOptions.AllFaults) + " (default: all)" };
var faultLong = new Option<bool>("--fault-long") { Description = "Also inject the 5-minute database outage (about 6 minutes per run)" };
var recoveryJobMs = new Option<int>("--recovery-job-ms") { Description = "Duration of the job that is killed", DefaultValueFactory = _ => 4000 };
var recoveryBound = new Option<int>("--recovery-bound") { Description = "Seconds to wait for a recovery before reporting 'not recovered'", DefaultValueFactory = _ => 120 };
var backlogJobs = new Option<int>("--backlog-jobs") { Description = "Jobs in the backlog of the memory measurement", DefaultValueFactory = _ => 10_000 };
var backlogSeconds = new Option<int>("--backlog-seconds") { Description = "Seconds memory is sampled after the backlog is submitted", DefaultValueFactory = _ => 15 };
var retentionJobs = new Option<int>("--retention-jobs") { Description = "Finished jobs the retention section fills and prunes", DefaultValueFactory = _ => 1_000_000 };
var maxAutoPrepare = new Option<int>("--max-auto-prepare") { Description = "Max Auto Prepare of the workers' connection string (0: off)", DefaultValueFactory = _ => 64 };
var workerSet = new Option<string[]>("--worker-set")
{
    Description = "Extra worker setting for experiments, e.g. --worker-set Logging:LogLevel:Default=Warning (repeatable)",
    AllowMultipleArgumentsPerToken = false,
    DefaultValueFactory = _ => [],
};
var output = new Option<string?>("--output") { Description = "Folder of the JSON results (default: <repository>/.bench)" };

var root = new RootCommand("consumers-bench: measures the whole job path against its limits on the local stack")
{
    only, jobs, baselineMessages, baselineRuns, throughputRuns, workers, concurrency, commitConnections, commitSeconds,
    latencyRate, latencySeconds, mediaClips, mediaSeconds, hangfireJobs, recoveryKills, faultRuns, faults, faultLong, recoveryJobMs, recoveryBound, backlogJobs, backlogSeconds, retentionJobs, maxAutoPrepare, workerSet, output,
};

root.SetAction(async (parse, cancellationToken) =>
{
    BenchOptions options;
    try
    {
        var sections = parse.GetValue(only) is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal)
            : BenchOptions.DefaultSections.ToHashSet(StringComparer.Ordinal);
        var unknown = sections.Except(BenchOptions.AllSections).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"--only: unknown section(s) {string.Join(", ", unknown)}; choose from {string.Join(", ", BenchOptions.AllSections)}");
        }

        var faultKinds = parse.GetValue(faults) is { Length: > 0 } kinds
            ? kinds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal)
            : BenchOptions.AllFaults.ToHashSet(StringComparer.Ordinal);
        var unknownFaults = faultKinds.Except(BenchOptions.AllFaults).ToList();
        if (unknownFaults.Count > 0)
        {
            throw new ArgumentException($"--faults: unknown fault kind(s) {string.Join(", ", unknownFaults)}; choose from {string.Join(", ", BenchOptions.AllFaults)}");
        }

        var workerCounts = parse.GetValue(workers)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(w => int.TryParse(w, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 16
                ? n
                : throw new ArgumentException($"--workers: '{w}' is not a worker count between 1 and 16"))
            .ToList();
        options = new BenchOptions
        {
            Sections = sections,
            Jobs = Positive(parse.GetValue(jobs), "--jobs"),
            BaselineMessages = Positive(parse.GetValue(baselineMessages), "--baseline-messages"),
            BaselineRuns = Positive(parse.GetValue(baselineRuns), "--baseline-runs"),
            ThroughputRuns = Positive(parse.GetValue(throughputRuns), "--throughput-runs"),
            WorkerCounts = workerCounts,
            Concurrency = Positive(parse.GetValue(concurrency), "--concurrency"),
            CommitConnections = parse.GetValue(commitConnections) is { } k ? Positive(k, "--commit-connections") : null,
            CommitSeconds = Positive(parse.GetValue(commitSeconds), "--commit-seconds"),
            LatencyRate = parse.GetValue(latencyRate) is { } r ? (r > 0 ? r : throw new ArgumentException("--latency-rate must be positive")) : null,
            LatencySeconds = Positive(parse.GetValue(latencySeconds), "--latency-seconds"),
            MediaClips = Positive(parse.GetValue(mediaClips), "--media-clips"),
            MediaClipSeconds = Positive(parse.GetValue(mediaSeconds), "--media-seconds"),
            HangfireJobs = parse.GetValue(hangfireJobs) is var peerJobs and >= 0 ? peerJobs : throw new ArgumentException("--hangfire-jobs must be 0 or more"),
            RecoveryKills = Positive(parse.GetValue(recoveryKills), "--recovery-kills"),
            FaultRuns = Positive(parse.GetValue(faultRuns), "--fault-runs"),
            Faults = faultKinds,
            FaultLong = parse.GetValue(faultLong),
            RecoveryJobMilliseconds = Positive(parse.GetValue(recoveryJobMs), "--recovery-job-ms"),
            RecoveryBoundSeconds = Positive(parse.GetValue(recoveryBound), "--recovery-bound"),
            BacklogJobs = Positive(parse.GetValue(backlogJobs), "--backlog-jobs"),
            BacklogSampleSeconds = Positive(parse.GetValue(backlogSeconds), "--backlog-seconds"),
            RetentionJobs = Positive(parse.GetValue(retentionJobs), "--retention-jobs"),
            MaxAutoPrepare = parse.GetValue(maxAutoPrepare) is var prepare and >= 0 ? prepare : throw new ArgumentException("--max-auto-prepare must be 0 or more"),
            WorkerSettings = parse.GetValue(workerSet)!.Select(pair => pair.IndexOf('=', StringComparison.Ordinal) is var equals and > 0
                    ? new KeyValuePair<string, string?>(pair[..equals], pair[(equals + 1)..])
                    : throw new ArgumentException($"--worker-set expects key=value, got '{pair}'"))
                .ToDictionary(),
            OutputDirectory = parse.GetValue(output) ?? Path.Combine(StackSettings.RepositoryRoot, ".bench"),
        };
    }
    catch (ArgumentException ex)
    {
        await Console.Error.WriteLineAsync("error: " + ex.Message);
        return 2;
    }

    return await BenchRun.RunAsync(options, cancellationToken);
});

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var error in parsed.Errors)
    {
        Console.Error.WriteLine("error: " + error.Message);
    }

    return 2;
}

// Ctrl-C is handled by the run itself: it stops its worker processes and drops its database before exiting.
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

static int Positive(int value, string name) => value > 0 ? value : throw new ArgumentException($"{name} must be positive, got {value}");

namespace Consumers.Bench
{
    /// <summary>One invocation: the environment, the chosen sections in order, the table and the JSON file.</summary>
    internal static class BenchRun
    {
        private static readonly JsonSerializerOptions Json = new()
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };

        public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            var report = new BenchReport { Machine = MachineInfo.Read() };
            report.Settings["sections"] = string.Join(",", BenchOptions.AllSections.Where(options.Sections.Contains));
            report.Settings["jobs"] = options.Jobs.ToString(CultureInfo.InvariantCulture);
            report.Settings["concurrency"] = options.Concurrency.ToString(CultureInfo.InvariantCulture);
            report.Settings["prefetch"] = options.Prefetch.ToString(CultureInfo.InvariantCulture);
            report.Settings["workerPool"] = "Maximum Pool Size=40;Max Auto Prepare=" + options.MaxAutoPrepare.ToString(CultureInfo.InvariantCulture);
            foreach (var (key, value) in options.WorkerSettings)
            {
                report.Settings["worker:" + key] = value ?? "";
            }

            Progress.Line("machine: " + report.Machine.Describe());

            BenchEnvironment environment;
            try
            {
                environment = await BenchEnvironment.CreateAsync(options.MaxAutoPrepare);
            }
            catch (StackUnavailableException ex)
            {
                await Console.Error.WriteLineAsync("error: " + ex.Message);
                return 4;
            }

            Progress.Line($"database and virtual host {environment.Name}; worker logs in {environment.LogRoot}");
            var failed = false;
            await using (environment)
            {
                var context = new BenchContext(environment, options);
                var sections = new (string Name, Func<BenchContext, Task<SectionResult>> Run)[]
                {
                    ("baseline", BaselineSection.RunAsync),
                    ("throughput", ThroughputSection.RunAsync),
                    ("latency", LatencySection.RunAsync),
                    // Before recovery, adaptive and cost, whose leftovers (killed jobs, a backlog) would share the worker.
                    ("media", MediaSection.RunAsync),
                    ("recovery", RecoverySection.RunAsync),
                    // Before cost, which leaves a backlog of long jobs behind in the run's queue.
                    ("adaptive", AdaptiveSection.RunAsync),
                    ("cost", CostSection.RunAsync),
                    ("retention", RetentionSection.RunAsync),
                    ("faults", Sections.Faults.FaultsSection.RunAsync),
                    ("long-jobs", LongJobsSection.RunAsync),
                };
                foreach (var (name, run) in sections.Where(s => options.Sections.Contains(s.Name)))
                {
                    Progress.Line($"== {name}");
                    var load = MachineInfo.LoadAverageNow();
                    SectionResult result;
                    try
                    {
                        var running = run(context);
                        var finished = await Task.WhenAny(running, Task.Delay(Timeout.Infinite, cancellationToken));
                        if (finished != running)
                        {
                            await Console.Error.WriteLineAsync("cancelled: stopping workers and dropping the benchmark database");
                            return 130;
                        }

                        result = await running;
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        failed = true;
                        Progress.Line($"{name} failed: {ex.Message}");
                        result = ex is SectionFailedException partial ? partial.Partial : new SectionResult(name);
                        result.Notes.Add("FAILED: " + ex.GetType().Name + ": " + ex.Message);
                        await environment.StopWorkersAsync();
                    }

                    result.LoadBefore = load;
                    result.LoadAfter = MachineInfo.LoadAverageNow();
                    report.Sections.Add(result);
                }
            }

            report.DurationSeconds = clock.Elapsed.TotalSeconds;
            Directory.CreateDirectory(options.OutputDirectory);
            // Results are local to this machine; keep them out of version control wherever the folder is.
            await File.WriteAllTextAsync(Path.Combine(options.OutputDirectory, ".gitignore"), "*\n", CancellationToken.None);
            var path = Path.Combine(options.OutputDirectory, $"results-{report.StartedAt:yyyyMMdd-HHmmss}.json");
            await File.WriteAllTextAsync(path, JsonSerializer.Serialize(report, Json), CancellationToken.None);
            Console.WriteLine(report.ToTable());
            Console.WriteLine("results: " + path);
            return failed ? 1 : 0;
        }
    }
}
