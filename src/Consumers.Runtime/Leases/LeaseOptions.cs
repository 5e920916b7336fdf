namespace Consumers.Runtime.Leases;

/// <summary>Settings under <c>Consumers:Leases</c>.</summary>
public sealed class LeaseOptions : Settings.IValidatedSettings
{
    public const string Section = "Consumers:Leases";

    /// <summary>
    /// Act on lost leases and failing beats by stopping local attempts. False is the observe-only rollout phase:
    /// beats are written and lost leases counted and logged, but nothing is stopped (writes stay fenced).
    /// </summary>
    public bool Enforce { get; set; } = true;

    /// <summary>How often one batched statement renews every active lease of this worker.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A lease whose heartbeat is older than this is stale and its job is recovered. Several intervals, so one slow beat is harmless.</summary>
    public TimeSpan LeaseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Per-stage lease timeouts, overriding <see cref="LeaseTimeout"/> (for example a slow stage on busy machines).</summary>
    public Dictionary<string, TimeSpan> StageLeaseTimeouts { get; set; } = new(StringComparer.Ordinal);

    /// <summary>An attempt may run this long, plus <see cref="DeadlinePerClipSecond"/> per second of clip, before it counts as hung.</summary>
    public TimeSpan BaseDeadline { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Extra deadline per second of clip duration: long media gets a deadline in proportion to its length.</summary>
    public TimeSpan DeadlinePerClipSecond { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest an attempt may ever run; RabbitMQ's consumer_timeout must be above it.</summary>
    public TimeSpan MaxDeadline { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Consecutive failed beats after which a warning is logged.</summary>
    public int WarnAfterFailedBeats { get; set; } = 3;

    /// <summary>
    /// Self-fencing point as a fraction of a job's lease timeout, counted from the moment the last statement that
    /// renewed its lease was sent (acquire or successful beat): past it the job is stopped here, before the lease can
    /// expire and the sweep give it to another worker. The rest of the lease is the margin for stopping the work.
    /// </summary>
    public double SelfFenceFraction { get; set; } = 0.8;

    /// <summary>
    /// How long one beat may wait for PostgreSQL, as a fraction of the shortest lease timeout among the jobs it renews
    /// (10 s lease: 2.5 s). A beat that takes longer counts as failed, and no second beat starts while it still hangs.
    /// </summary>
    public double HeartbeatTimeoutFraction { get; set; } = 0.25;

    /// <summary>How long after its last renewal was sent a job with this lease is stopped locally.</summary>
    public TimeSpan FenceAfter(TimeSpan leaseTimeout) => leaseTimeout * SelfFenceFraction;

    /// <summary>How long a beat renewing leases of at least <paramref name="shortestLease"/> may take.</summary>
    public TimeSpan BeatTimeout(TimeSpan shortestLease) => shortestLease * HeartbeatTimeoutFraction;

    public TimeSpan LeaseTimeoutFor(string stage) =>
        StageLeaseTimeouts.TryGetValue(stage, out var timeout) ? timeout : LeaseTimeout;

    /// <summary>The shortest lease any stage has (<see cref="LeaseTimeout"/> or a shorter stage override).</summary>
    public TimeSpan ShortestLeaseTimeout => StageLeaseTimeouts.Values.Append(LeaseTimeout).Min();

    public TimeSpan DeadlineFor(double? clipDurationSeconds)
    {
        var deadline = BaseDeadline + (DeadlinePerClipSecond * Math.Max(0, clipDurationSeconds ?? 0));
        return deadline < MaxDeadline ? deadline : MaxDeadline;
    }

    /// <inheritdoc />
    public IReadOnlyList<string> Problems()
    {
        var rules = new Settings.SettingsRules(Section)
            .Positive(HeartbeatInterval, nameof(HeartbeatInterval))
            .Require(LeaseTimeout >= HeartbeatInterval * 2, nameof(LeaseTimeout),
                $"must be at least twice HeartbeatInterval ({HeartbeatInterval}), so one slow beat does not cost a lease (is {LeaseTimeout})")
            .Fraction(SelfFenceFraction, nameof(SelfFenceFraction))
            .Fraction(HeartbeatTimeoutFraction, nameof(HeartbeatTimeoutFraction))
            .Require(HeartbeatTimeoutFraction < SelfFenceFraction, nameof(HeartbeatTimeoutFraction), $"must be below SelfFenceFraction ({SelfFenceFraction})")
            .Positive(BaseDeadline, nameof(BaseDeadline))
            .Require(DeadlinePerClipSecond >= TimeSpan.Zero, nameof(DeadlinePerClipSecond), "must not be negative")
            .Require(MaxDeadline >= BaseDeadline, nameof(MaxDeadline), $"must be at least BaseDeadline ({BaseDeadline})")
            .Require(WarnAfterFailedBeats >= 1, nameof(WarnAfterFailedBeats), "must be at least 1");
        foreach (var (stage, timeout) in StageLeaseTimeouts)
        {
            rules.Require(timeout >= HeartbeatInterval * 2, $"{nameof(StageLeaseTimeouts)}:{stage}", $"must be at least twice HeartbeatInterval ({HeartbeatInterval})");
        }

        return rules.Problems;
    }
}
