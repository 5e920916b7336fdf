namespace Consumers.Runtime.Control;

/// <summary>
/// Settings under <c>Consumers:Retention</c>: how long finished jobs (with their events and checkpoints), finished
/// pipelines (with their steps and timeline) and operator actions are kept.
/// </summary>
public sealed class RetentionOptions : Settings.IValidatedSettings
{
    public const string Section = "Consumers:Retention";

    /// <summary>Run the retention job (a clustered Quartz job beside the recovery sweep, so it needs Recovery enabled).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often the retention job runs.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Keep <c>succeeded</c> jobs this long after they finished.</summary>
    public TimeSpan Succeeded { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Keep <c>failed</c> jobs this long after they finished.</summary>
    public TimeSpan Failed { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Keep <c>cancelled</c> jobs this long after they finished.</summary>
    public TimeSpan Cancelled { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Keep rows of <c>operator_actions</c> (the audit of cancels, pauses, requeues, replays) this long. Finished pipelines
    /// follow the job retention of their outcome (<see cref="Succeeded"/>, <see cref="Failed"/>, <see cref="Cancelled"/>).
    /// </summary>
    public TimeSpan OperatorActions { get; set; } = TimeSpan.FromDays(90);

    /// <summary>
    /// Rows deleted per statement: jobs (with their events), pipelines (with their steps and events) and operator actions
    /// each in statements of at most this many; each statement holds its row locks only for itself.
    /// </summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>At most this many batches per run, so one run never keeps a connection long; the next run goes on.</summary>
    public int MaxBatchesPerRun { get; set; } = 200;

    /// <summary>The shortest retention allowed: a finished row is what makes a late redelivery of its request harmless.</summary>
    public static readonly TimeSpan MinimumRetention = TimeSpan.FromHours(1);

    /// <inheritdoc />
    public IReadOnlyList<string> Problems() => new Settings.SettingsRules(Section)
        .Positive(Interval, nameof(Interval))
        .Require(Succeeded >= MinimumRetention, nameof(Succeeded), $"must be at least {MinimumRetention}: a redelivered request of a pruned job would run again")
        .Require(Failed >= MinimumRetention, nameof(Failed), $"must be at least {MinimumRetention}")
        .Require(Cancelled >= MinimumRetention, nameof(Cancelled), $"must be at least {MinimumRetention}: a cancelled job's redelivery must find it")
        .Require(OperatorActions >= MinimumRetention, nameof(OperatorActions), $"must be at least {MinimumRetention}")
        .Within(BatchSize, 1, 10_000, nameof(BatchSize))
        .Within(MaxBatchesPerRun, 1, 100_000, nameof(MaxBatchesPerRun))
        .Problems;
}
