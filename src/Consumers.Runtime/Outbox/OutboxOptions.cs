namespace Consumers.Runtime.Outbox;

/// <summary>Settings under <c>Consumers:Outbox</c>.</summary>
public sealed class OutboxOptions : Settings.IValidatedSettings
{
    public const string Section = "Consumers:Outbox";

    /// <summary>Run the relay in this process. At most one relay publishes at a time, whatever this says.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Rows read and published per round.</summary>
    public int BatchSize { get; set; } = 200;

    /// <summary>Publishes in flight at once (messages of one job are always published one after another).</summary>
    public int MaxParallelPublishes { get; set; } = 32;

    /// <summary>
    /// The idle relay wakes on NOTIFY; this is the fallback poll for rows no notification announces (a failed publish
    /// whose retry came due, rows deferred by a previous leader) and for a notification it missed.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// While the relay drains a backlog it does not listen for notifications and reads a round at most this often
    /// (at once after a full round): rows gather between rounds, so each round's one transaction carries more of them.
    /// It is also the most a message waits in the outbox for the next round while the relay is busy.
    /// </summary>
    public TimeSpan DrainInterval { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// How long one publish may wait for the broker's confirm before it counts as failed. Never longer than what is
    /// left of the relay's lease: a publish still waiting when the lease may have passed to another relay is given up.
    /// </summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>First retry delay of a failed publish; doubles per failure up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a relay that does not lead tries to take the lease (it succeeds only once the lease has expired).</summary>
    public TimeSpan StandbyInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long the relay lease lasts after each renew. A frozen or cut-off leader is replaced after at most this
    /// plus <see cref="StandbyInterval"/>.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>How often the leader renews its lease; a few renews must fit in <see cref="LeaseDuration"/>.</summary>
    public TimeSpan LeaseRenewInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest one lease statement (acquire, renew, release) may take before it counts as failed.</summary>
    public TimeSpan LeaseStatementTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often every worker reads the outbox backlog and the age of its oldest row from the database.</summary>
    public TimeSpan BacklogCheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary><c>/health/ready</c> turns Degraded while the oldest unpublished outbox row is older than this.</summary>
    public TimeSpan StallThreshold { get; set; } = TimeSpan.FromSeconds(60);

    /// <inheritdoc />
    public IReadOnlyList<string> Problems() => new Settings.SettingsRules(Section)
        .Require(BatchSize > 0, nameof(BatchSize), "must be positive")
        .Require(MaxParallelPublishes > 0, nameof(MaxParallelPublishes), "must be positive")
        .Positive(PollInterval, nameof(PollInterval))
        .Require(DrainInterval >= TimeSpan.Zero && DrainInterval < PollInterval, nameof(DrainInterval), "must be zero or positive and shorter than PollInterval")
        .Require(PublishTimeout > TimeSpan.Zero && PublishTimeout <= LeaseDuration - LeaseRenewInterval, nameof(PublishTimeout),
            "must be positive and at most LeaseDuration minus LeaseRenewInterval (a publish must not outlive the relay's lease)")
        .Require(RetryDelay > TimeSpan.Zero && MaxRetryDelay >= RetryDelay, nameof(RetryDelay), "must be positive and MaxRetryDelay at least RetryDelay")
        .Require(LeaseDuration >= TimeSpan.FromSeconds(1), nameof(LeaseDuration), "must be at least 1 second")
        .Require(LeaseRenewInterval > TimeSpan.Zero && LeaseRenewInterval * 2 <= LeaseDuration, nameof(LeaseRenewInterval),
            "must be positive and at most half of LeaseDuration (one failed renew must not cost the lease)")
        .Require(LeaseStatementTimeout > TimeSpan.Zero && LeaseStatementTimeout < LeaseRenewInterval, nameof(LeaseStatementTimeout),
            "must be positive and shorter than LeaseRenewInterval")
        .Require(StandbyInterval > TimeSpan.Zero && StandbyInterval <= LeaseDuration, nameof(StandbyInterval), "must be positive and at most LeaseDuration")
        .Positive(BacklogCheckInterval, nameof(BacklogCheckInterval))
        .Require(StallThreshold > BacklogCheckInterval, nameof(StallThreshold), "must be longer than BacklogCheckInterval")
        .Problems;
}
