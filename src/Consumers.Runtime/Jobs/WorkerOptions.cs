namespace Consumers.Runtime.Jobs;

/// <summary>Settings under <c>Consumers:Worker</c>.</summary>
public sealed class WorkerOptions : Settings.IValidatedSettings
{
    public const string Section = "Consumers:Worker";

    /// <summary>Names this process in leases and timelines. Default: host name and process id.</summary>
    public string WorkerId { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary>Attempts a job gets unless its request says otherwise.</summary>
    public int DefaultMaxAttempts { get; set; } = 3;

    /// <summary>A progress event is written when the percent grew by at least this much...</summary>
    public int ProgressMinDelta { get; set; } = 10;

    /// <summary>...or when this much time passed and it grew at all.</summary>
    public TimeSpan ProgressMinInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Lets the synthetic stage's <c>crashProcess=true</c> parameter kill this worker process (fault drills and tests
    /// only). Off: such a request fails with INVALID_REQUEST.
    /// </summary>
    public bool AllowCrashParameter { get; set; }

    /// <summary>
    /// How long an attempt keeps retrying its final write (succeeded, retry scheduled, failed) when the connection
    /// to PostgreSQL is lost while writing it. The write is fenced, so retrying is always safe; past this the
    /// attempt gives up and the recovery sweep requeues the job once its lease expires.
    /// </summary>
    public TimeSpan CommitRetryTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>After this long without a job, the worker compacts its heap once and returns the free memory. Zero: never.</summary>
    public TimeSpan IdleTrimAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <inheritdoc />
    public IReadOnlyList<string> Problems() => new Settings.SettingsRules(Section)
        .Require(!string.IsNullOrWhiteSpace(WorkerId) && WorkerId.Length <= 200, nameof(WorkerId), "must be 1 to 200 characters")
        .Within(DefaultMaxAttempts, 1, JobRequestLimits.MaxAttempts, nameof(DefaultMaxAttempts))
        .Within(ProgressMinDelta, 1, 100, nameof(ProgressMinDelta))
        .Require(ProgressMinInterval >= TimeSpan.Zero, nameof(ProgressMinInterval), "must not be negative")
        .Require(IdleTrimAfter >= TimeSpan.Zero, nameof(IdleTrimAfter), "must not be negative (zero: never)")
        .Require(CommitRetryTimeout >= TimeSpan.Zero, nameof(CommitRetryTimeout), "must not be negative")
        .Problems;
}
