using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

using Consumers.Runtime.Failures;

namespace Consumers.Runtime.Telemetry;

/// <summary>
/// Every instrument the runtime exports (meter <c>Consumers</c>). Names follow OpenTelemetry; the Prometheus
/// exporter renders them as listed in docs/metrics.md (for example <c>heartbeats</c> → <c>heartbeats_total</c>).
/// Labels are low-cardinality: stage, outcome, code, reason; never a job id.
/// </summary>
public sealed class ConsumersMetrics : IDisposable
{
    public const string MeterName = "Consumers";

    private readonly Meter meter;
    private readonly ConcurrentDictionary<string, StrongBox<int>> runningByStage = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> zeroedStages = new(StringComparer.Ordinal);

    public ConsumersMetrics(IMeterFactory meterFactory)
    {
        meter = meterFactory.Create(MeterName);
        Heartbeats = meter.CreateCounter<long>("heartbeats", description: "Heartbeat statements that succeeded.");
        HeartbeatFailures = meter.CreateCounter<long>("heartbeat_failures", description: "Heartbeat statements that failed.");
        LeasesLost = meter.CreateCounter<long>("leases_lost", description: "Attempts stopped because their lease was taken over or could not be renewed.");
        SelfFencedJobs = meter.CreateCounter<long>("self_fenced_jobs", description: "Attempts this worker stopped because their lease went unrenewed for most of its timeout.");
        RecoveredJobs = meter.CreateCounter<long>("recovered_jobs", description: "Jobs the recovery sweep requeued or failed, by reason.");
        RetryAttempts = meter.CreateCounter<long>("retry_attempts", description: "Retries scheduled, by error code.");
        DuplicateSkips = meter.CreateCounter<long>("duplicate_skips", description: "Deliveries for jobs that had already finished.");
        AcquireConflicts = meter.CreateCounter<long>("acquire_conflicts", description: "Deliveries for jobs another attempt held or that were not due.");
        AcquireTimeouts = meter.CreateCounter<long>("acquire_timeouts",
            description: "Acquires that got no answer from PostgreSQL within Consumers:Database:AcquireTimeout: the delivery went back to its queue and the intake closed.");
        JobOutcomes = meter.CreateCounter<long>("jobs_finished", description: "Attempts that ended, by stage and outcome.");
        JobFailures = meter.CreateCounter<long>("job_failures", description: "Failed attempts by stage, code and class.");
        SuspectJobs = meter.CreateCounter<long>("suspect_jobs", description: "Deliveries of suspect jobs (an earlier attempt died with its worker), by whether they ran alone here or were handed back.");
        JobDuration = meter.CreateHistogram<double>("job_duration", unit: "s", description: "Attempt duration from acquire to outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400] });
        OutboxPublished = meter.CreateCounter<long>("outbox_published", description: "Outbox messages the relay published.");
        OutboxPublishFailures = meter.CreateCounter<long>("outbox_publish_failures", description: "Outbox publishes that failed and will be retried.");
        OutboxPublishLatency = meter.CreateHistogram<double>("outbox_publish_latency", unit: "s", description: "Time from outbox commit to broker confirm.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
        RecoverySweeps = meter.CreateCounter<long>("recovery_sweeps", description: "Recovery sweeps this worker ran (Quartz runs each on one worker of the cluster), by outcome.");
        RecoverySweepDuration = meter.CreateHistogram<double>("recovery_sweep_duration", unit: "s", description: "How long one recovery sweep took.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        Pauses = meter.CreateCounter<long>("worker_pauses", description: "Times backpressure paused this worker's job intake, by reason.");
        CommitRetries = meter.CreateCounter<long>("commit_retries",
            description: "Final writes of an attempt retried after the connection to PostgreSQL broke, by outcome (written, fenced, given_up).");
        Cancellations = meter.CreateCounter<long>("cancellations", description: "Jobs this process cancelled, by stage and where they were stopped (queued, running, abandoned).");
        FanOuts = meter.CreateCounter<long>("fan_outs",
            description: "Transcodes this worker handed to segment jobs (parallel) before waiting for them without a lease.");
        PrunedJobs = meter.CreateCounter<long>("pruned_jobs", description: "Finished jobs the retention job deleted, by status.");
        PrunedPipelines = meter.CreateCounter<long>("pruned_pipelines", description: "Finished pipelines (with their steps and timeline) the retention job deleted, by status.");
        PrunedOperatorActions = meter.CreateCounter<long>("pruned_operator_actions", description: "Rows of operator_actions the retention job deleted.");
        ScratchBytesKept = meter.CreateCounter<long>("scratch_kept", unit: "By", description: "Bytes of scratch kept after failed attempts.");
        meter.CreateObservableGauge("worker_concurrent_jobs",
            () => runningByStage.Select(s => new Measurement<int>(Volatile.Read(ref s.Value.Value), new KeyValuePair<string, object?>("stage", s.Key))),
            description: "Jobs this worker is running now, by stage.");

        // Series that only move when something goes wrong exist from the first scrape, so dashboards and
        // alerts see a zero rather than nothing.
        Heartbeats.Add(0);
        HeartbeatFailures.Add(0);
        LeasesLost.Add(0);
        SelfFencedJobs.Add(0);
        AcquireTimeouts.Add(0);
        foreach (var outcome in new[] { "written", "fenced", "given_up" })
        {
            CommitRetries.Add(0, new KeyValuePair<string, object?>("outcome", outcome));
        }

        foreach (var reason in new[] { "stale", "hung", "exhausted", "quarantined" })
        {
            RecoveredJobs.Add(0, new KeyValuePair<string, object?>("reason", reason));
        }

        foreach (var outcome in new[] { "ok", "failed" })
        {
            RecoverySweeps.Add(0, new KeyValuePair<string, object?>("outcome", outcome));
        }

        foreach (var type in OutboxTypes)
        {
            OutboxPublished.Add(0, new KeyValuePair<string, object?>("type", type));
            OutboxPublishFailures.Add(0, new KeyValuePair<string, object?>("type", type));
        }

        foreach (var status in new[] { "succeeded", "failed", "cancelled" })
        {
            PrunedJobs.Add(0, new KeyValuePair<string, object?>("status", status));
            PrunedPipelines.Add(0, new KeyValuePair<string, object?>("status", status));
        }

        PrunedOperatorActions.Add(0);
        FanOuts.Add(0);

        foreach (var where in new[] { "queued", "running", "abandoned" })
        {
            Cancellations.Add(0, new KeyValuePair<string, object?>("where", where));
        }

        foreach (var reason in new[] { "cpu", "queue" })
        {
            Pauses.Add(0, new KeyValuePair<string, object?>("reason", reason));
        }

        foreach (var code in ErrorCatalogue.Codes.Where(c => ErrorCatalogue.ClassOf(c) == ErrorClass.Transient))
        {
            RetryAttempts.Add(0, new KeyValuePair<string, object?>("code", code));
        }
    }

    /// <summary>Outcomes an attempt ends with (the <c>outcome</c> label of <c>jobs_finished_total</c>).</summary>
    public static IReadOnlyList<string> Outcomes { get; } = ["succeeded", "skipped", "failed", "retry_scheduled", "requeued", "lease_lost"];

    private static readonly string[] OutboxTypes = ["JobTimelineEvent", "JobRequested"];

    public Counter<long> Heartbeats { get; }
    public Counter<long> HeartbeatFailures { get; }
    public Counter<long> LeasesLost { get; }
    public Counter<long> SelfFencedJobs { get; }
    public Counter<long> RecoveredJobs { get; }
    public Counter<long> RetryAttempts { get; }
    public Counter<long> DuplicateSkips { get; }
    public Counter<long> AcquireConflicts { get; }
    public Counter<long> AcquireTimeouts { get; }
    public Counter<long> JobOutcomes { get; }
    public Counter<long> JobFailures { get; }
    public Counter<long> SuspectJobs { get; }
    public Histogram<double> JobDuration { get; }
    public Counter<long> OutboxPublished { get; }
    public Counter<long> OutboxPublishFailures { get; }
    public Histogram<double> OutboxPublishLatency { get; }
    public Counter<long> ScratchBytesKept { get; }
    public Counter<long> CommitRetries { get; }
    public Counter<long> Cancellations { get; }
    public Counter<long> PrunedJobs { get; }
    public Counter<long> PrunedPipelines { get; }
    public Counter<long> PrunedOperatorActions { get; }
    public Counter<long> FanOuts { get; }
    public Counter<long> Pauses { get; }
    public Counter<long> RecoverySweeps { get; }
    public Histogram<double> RecoverySweepDuration { get; }

    /// <summary>Registers an observable gauge on this meter (for state owned elsewhere, such as the outbox backlog).</summary>
    public void ObserveGauge(string name, Func<long> read, string description) =>
        meter.CreateObservableGauge(name, read, description: description);

    /// <summary>Registers an observable gauge in seconds (exported with a <c>_seconds</c> suffix).</summary>
    public void ObserveSeconds(string name, Func<double> read, string description) =>
        meter.CreateObservableGauge(name, read, unit: "s", description: description);

    /// <summary>Registers an observable gauge with a fractional value (an age in seconds, for example).</summary>
    public void ObserveGauge(string name, Func<double> read, string description) =>
        meter.CreateObservableGauge(name, read, description: description);

    /// <summary>Registers an observable gauge with one series per label set (for example one per lane).</summary>
    public void ObserveGauges(string name, Func<IEnumerable<Measurement<int>>> read, string description) =>
        meter.CreateObservableGauge(name, read, description: description);

    /// <summary>Registers an observable counter with one series per label set, for totals read from elsewhere (the database).</summary>
    public void ObserveCounters(string name, Func<IEnumerable<Measurement<long>>> read, string description) =>
        meter.CreateObservableCounter(name, read, description: description);

    /// <summary>Gives these stages a running-jobs series at zero before their first job.</summary>
    /// <remarks>
    /// Also starts every per-stage counter series at zero (each outcome, each catalogued error code with its class):
    /// a series born at its first event makes <c>increase()</c> miss that event, and a dashboard panel show no data.
    /// </remarks>
    public void TrackStages(IEnumerable<string> stages)
    {
        foreach (var stage in stages)
        {
            runningByStage.GetOrAdd(stage, _ => new StrongBox<int>());
            if (!zeroedStages.TryAdd(stage, 0))
            {
                continue;
            }

            var label = new KeyValuePair<string, object?>("stage", stage);
            DuplicateSkips.Add(0, label);
            AcquireConflicts.Add(0, label);
            ScratchBytesKept.Add(0, label);
            foreach (var outcome in Outcomes)
            {
                JobOutcomes.Add(0, new TagList { { "stage", stage }, { "outcome", outcome } });
            }

            foreach (var code in ErrorCatalogue.Codes)
            {
                var errorClass = ErrorCatalogue.ClassOf(code) == ErrorClass.Fatal ? "fatal" : "transient";
                JobFailures.Add(0, new TagList { { "stage", stage }, { "code", code }, { "class", errorClass } });
            }
        }
    }

    public void JobStarted(string stage) => Interlocked.Increment(ref runningByStage.GetOrAdd(stage, _ => new StrongBox<int>()).Value);

    public void JobEnded(string stage) => Interlocked.Decrement(ref runningByStage.GetOrAdd(stage, _ => new StrongBox<int>()).Value);

    public void Dispose() => meter.Dispose();
}
