namespace Consumers.Runtime.Recovery;

/// <summary>Settings under <c>Consumers:Recovery</c>: the sweep that gives dead workers' jobs to live ones.</summary>
public sealed class RecoveryOptions : Settings.IValidatedSettings
{
    public const string Section = "Consumers:Recovery";

    /// <summary>Run the sweep in this process (one process in the cluster runs it at a time).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Log what the sweep would requeue, fail or dispatch, and change nothing (rollout phase 3).</summary>
    public bool DryRun { get; set; }

    /// <summary>How often the sweep runs. Recovery takes about the lease timeout plus this.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Rows changed per statement; a sweep runs batches until none are left.</summary>
    public int BatchSize { get; set; } = 100;

    /// <summary>Fail a stale job with RETRIES_EXHAUSTED when its attempts are used up (off: always requeue; rollout phase 3).</summary>
    public bool EnforceAttemptLimits { get; set; } = true;

    public const int MinQuarantineAfterLeaseExpiries = 2;
    public const int MaxQuarantineAfterLeaseExpiries = 100;

    /// <summary>
    /// A job whose attempts died this many times (lease expiries: its worker crashed, froze or was fenced while
    /// running it) is quarantined instead of requeued. The first death may be a neighbour's doing and is not charged;
    /// after it the job runs alone on its worker, so later deaths are its own. From 2 to 100; default 3.
    /// </summary>
    public int QuarantineAfterLeaseExpiries { get; set; } = 3;

    /// <summary>A queued job whose JobRequested went out this long ago without being acquired is sent again (a message lost outside the runtime).</summary>
    public TimeSpan RedispatchAfter { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How often each scheduler instance checks in to the cluster.</summary>
    public TimeSpan ClusterCheckinInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>After this much silence another instance takes over the sweep of a dead one.</summary>
    public TimeSpan ClusterCheckinMisfireThreshold { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// The longest a scheduler may sit in an open transaction on Quartz's connections (PostgreSQL ends its session
    /// after this: <c>idle_in_transaction_session_timeout</c>), and so the longest a frozen or cut-off worker can
    /// keep Quartz's cluster lock from the others. Quartz's statements (its lock wait included) time out after
    /// twice this.
    /// </summary>
    public TimeSpan ClusterLockTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    public IReadOnlyList<string> Problems() => new Settings.SettingsRules(Section)
        .Positive(SweepInterval, nameof(SweepInterval))
        .Within(BatchSize, 1, 10_000, nameof(BatchSize))
        .Within(QuarantineAfterLeaseExpiries, MinQuarantineAfterLeaseExpiries, MaxQuarantineAfterLeaseExpiries, nameof(QuarantineAfterLeaseExpiries))
        .Positive(RedispatchAfter, nameof(RedispatchAfter))
        .Positive(ClusterCheckinInterval, nameof(ClusterCheckinInterval))
        .Require(ClusterCheckinMisfireThreshold >= ClusterCheckinInterval, nameof(ClusterCheckinMisfireThreshold),
            $"must be at least ClusterCheckinInterval ({ClusterCheckinInterval}), or every scheduler looks failed to the others")
        .Positive(ClusterLockTimeout, nameof(ClusterLockTimeout))
        .Problems;
}
