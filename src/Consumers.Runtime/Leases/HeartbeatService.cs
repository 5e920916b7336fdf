using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Leases;

/// <summary>
/// One loop per worker: every interval, one fenced statement renews the leases of all active
/// attempts. An attempt whose row was not renewed lost its lease and is stopped.
/// <para>
/// Beside it a watch stops every attempt whose last successful renewal was sent more than
/// <see cref="LeaseOptions.SelfFenceFraction"/> of its lease ago (<see cref="SelfFencing"/>), and closes the job
/// intake: when the database cannot be reached (down, partitioned, a connection that answers nothing) the work here
/// ends before the lease can expire and another worker start the job. Each beat gives up after a fraction of the
/// lease, and no beat starts while an earlier one still hangs, so a silent path costs one connection, not one per
/// interval. The first beat that succeeds afterwards (a bare round trip when no attempt is left) reopens the intake.
/// </para>
/// </summary>
internal sealed partial class HeartbeatService : BackgroundService
{
    /// <summary>The reason under which self-fencing closes the job intake.</summary>
    public const string IntakeReason = "heartbeat";

    // The watch wakes at the next fence point, and at least this often to see newly started attempts.
    private static readonly TimeSpan MaxWatchSleep = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MinWatchSleep = TimeSpan.FromMilliseconds(10);

    private readonly ActiveJobRegistry registry;
    private readonly IIntakeSwitch intake;
    private readonly IHeartbeatStore store;
    private readonly ConsumersMetrics metrics;
    private readonly LeaseOptions options;
    private readonly TimeProvider time;
    private readonly ILogger<HeartbeatService> logger;
    private readonly SelfFencing fencing;
    private readonly Lock gate = new();
    private Task? beatInFlight;
    private int consecutiveFailures;
    private long? lastSuccessSentAt;
    private bool fenced;
    private bool overdueReported;

    public HeartbeatService(
        ActiveJobRegistry registry,
        IIntakeSwitch intake,
        IHeartbeatStore store,
        ConsumersMetrics metrics,
        IOptions<LeaseOptions> options,
        TimeProvider time,
        ILogger<HeartbeatService> logger)
    {
        this.registry = registry;
        this.intake = intake;
        this.store = store;
        this.metrics = metrics;
        this.options = options.Value;
        this.time = time;
        this.logger = logger;
        fencing = new SelfFencing(this.options, time);
        metrics.ObserveSeconds("heartbeat_age", () => fencing.OldestRenewalAge(registry.Snapshot()).TotalSeconds,
            "Seconds since the oldest running attempt's lease was last renewed (acquire or successful beat); 0 with none running.");
    }

    /// <summary>True from self-fencing until a beat succeeds again; the job intake is closed meanwhile (when enforcing).</summary>
    public bool IsFenced
    {
        get
        {
            lock (gate)
            {
                return fenced;
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogMode(options.Enforce ? "enforcing" : "observe only", options.HeartbeatInterval.TotalSeconds, options.LeaseTimeout.TotalSeconds,
            options.FenceAfter(options.LeaseTimeout).TotalSeconds, options.BeatTimeout(options.LeaseTimeout).TotalSeconds);
        var watch = WatchAsync(stoppingToken);
        try
        {
            using var timer = new PeriodicTimer(options.HeartbeatInterval, time);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await BeatAsync(stoppingToken);
            }
        }
        finally
        {
            await watch;
        }
    }

    /// <summary>One beat; public so tests can drive it without waiting for the timer.</summary>
    public async Task BeatAsync(CancellationToken cancellationToken)
    {
        // Attempts stopped for a lost or fenced lease are not renewed: their jobs belong to the sweep now.
        var renewable = registry.Snapshot().Where(a => a.Reason != StopReason.LeaseLost).ToList();
        if (renewable.Count == 0 && !IsFenced)
        {
            consecutiveFailures = 0;
            return;
        }

        if (beatInFlight is { IsCompleted: false })
        {
            BeatFailed("the previous beat is still waiting for PostgreSQL");
            return;
        }

        var timeout = fencing.BeatTimeout(renewable);
        var sentAt = time.GetTimestamp();
        HeartbeatResult answer;
        try
        {
            answer = await StartBeat(renewable, timeout, cancellationToken).WaitAsync(timeout, time, cancellationToken);
        }
        catch (TimeoutException) when (!cancellationToken.IsCancellationRequested)
        {
            BeatFailed($"no answer within {timeout.TotalSeconds:F1}s");
            return;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            BeatFailed(ex.Message);
            return;
        }

        metrics.Heartbeats.Add(1);
        lastSuccessSentAt = sentAt;
        if (consecutiveFailures > 0)
        {
            LogRecovered(consecutiveFailures);
        }

        consecutiveFailures = 0;
        foreach (var job in renewable)
        {
            if (answer.Alive.Contains(job.Lease.JobId))
            {
                job.Renewed(sentAt);
                if (answer.CancelRequested.Contains(job.Lease.JobId))
                {
                    // An operator asked to cancel it: the runner ends it as cancelled.
                    job.Stop(StopReason.Cancelled);
                }
            }
            else if (!job.IsFinishing && registry.IsActive(job))
            {
                // A job that finished while the beat was in flight is not a lost lease.
                LogLeaseLost(job.Lease.JobId, job.Lease.Attempt);
                if (options.Enforce)
                {
                    job.Stop(StopReason.LeaseLost);
                }
            }
        }

        await ReopenAsync(cancellationToken);
    }

    /// <summary>
    /// Stops every running attempt past its fence point and closes the intake (observe-only mode: logs once per
    /// outage instead). Public so tests can drive it; the watch calls it continuously.
    /// </summary>
    public void FenceOverdue()
    {
        var overdue = fencing.Overdue(registry.Snapshot());
        if (overdue.Count == 0)
        {
            return;
        }

        var oldest = overdue.Max(fencing.SinceRenewed).TotalSeconds;
        if (!options.Enforce)
        {
            lock (gate)
            {
                if (overdueReported)
                {
                    return;
                }

                overdueReported = true;
            }

            LogWouldFence(overdue.Count, oldest);
            return;
        }

        bool close;
        lock (gate)
        {
            close = !fenced;
            fenced = true;
        }

        // Work first: the intake only keeps new deliveries away, the attempts are what must end before the lease does.
        foreach (var job in overdue)
        {
            job.Stop(StopReason.LeaseLost);
        }

        metrics.SelfFencedJobs.Add(overdue.Count);
        LogSelfFencing(overdue.Count, oldest);
        if (close)
        {
            intake.Close(IntakeReason);
        }
    }

    private Task<HeartbeatResult> StartBeat(IReadOnlyList<ActiveJob> renewable, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // Npgsql gives up on a silent connection only after its cancel request (a new connection) fails too; the beat
        // does not wait for that, but the token must outlive this call, so the beat disposes it when it ends.
        var giveUp = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        giveUp.CancelAfter(timeout);
        var beat = store.HeartbeatAsync([.. renewable.Select(a => new HeartbeatEntry(a.Lease.JobId, a.Lease.Token, a.ProgressPercent))], timeout, giveUp.Token);
        beatInFlight = beat;
        beat.ContinueWith(static (t, source) =>
        {
            _ = t.Exception;
            ((CancellationTokenSource)source!).Dispose();
        }, giveUp, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return beat;
    }

    private void BeatFailed(string error)
    {
        metrics.HeartbeatFailures.Add(1);
        consecutiveFailures++;
        if (consecutiveFailures > options.WarnAfterFailedBeats)
        {
            var since = lastSuccessSentAt is { } last ? $"{time.GetElapsedTime(last).TotalSeconds:F1}s ago" : "never since start";
            LogBeatsFailing(consecutiveFailures, error, since);
        }
    }

    private async Task ReopenAsync(CancellationToken cancellationToken)
    {
        bool reopen;
        lock (gate)
        {
            overdueReported = false;
            reopen = fenced;
            fenced = false;
        }

        if (reopen)
        {
            // The path to the database works again; fenced attempts still winding down only hold their slots.
            LogReopening(registry.Count);
            await intake.OpenAsync(IntakeReason, cancellationToken);
        }
    }

    private async Task WatchAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                FenceOverdue();
            }
            catch (Exception ex)
            {
                LogWatchFailed(ex);
            }

            var next = fencing.UntilNextFence(registry.Snapshot()) ?? MaxWatchSleep;
            var sleep = next > MaxWatchSleep ? MaxWatchSleep : next < MinWatchSleep ? MinWatchSleep : next;
            try
            {
                await Task.Delay(sleep, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Heartbeat {Mode}: every {IntervalSeconds}s, lease timeout {LeaseSeconds}s, self-fencing {FenceSeconds:F1}s after the last renewal, beat timeout {BeatTimeoutSeconds:F1}s")]
    private partial void LogMode(string mode, double intervalSeconds, double leaseSeconds, double fenceSeconds, double beatTimeoutSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease lost for job {JobId} attempt {Attempt}: another attempt owns it now; stopping this one")]
    private partial void LogLeaseLost(Guid jobId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat failed {Failures} times in a row ({Error}); last successful beat sent {LastSuccess}")]
    private partial void LogBeatsFailing(int failures, string error, string lastSuccess);

    [LoggerMessage(Level = LogLevel.Information, Message = "Heartbeat recovered after {Failures} failed beats")]
    private partial void LogRecovered(int failures);

    [LoggerMessage(Level = LogLevel.Error, Message = "Self-fencing: {Count} local jobs not renewed for {Seconds:F1}s, close to their lease timeout: stopped them so that no other worker runs them twice; job intake closed until a beat succeeds")]
    private partial void LogSelfFencing(int count, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Observe only: {Count} local jobs not renewed for {Seconds:F1}s would be stopped now (self-fencing); they keep running")]
    private partial void LogWouldFence(int count, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Heartbeat reached PostgreSQL again after self-fencing: reopening the job intake ({Registered} attempts still winding down)")]
    private partial void LogReopening(int registered);

    [LoggerMessage(Level = LogLevel.Error, Message = "Self-fencing watch failed; trying again")]
    private partial void LogWatchFailed(Exception exception);
}
