using Consumers.Runtime.Jobs;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Leases;

/// <summary>
/// One loop per worker (seed 2.2): every interval, one fenced statement renews the leases of all active
/// attempts. An attempt whose row was not renewed lost its lease and is stopped. When beats keep failing
/// (database unreachable) for most of the lease timeout, every local attempt is stopped before another
/// worker can take it over, so two attempts never run side by side.
/// </summary>
public sealed partial class HeartbeatService(
    ActiveJobRegistry registry,
    Flow.JobIntake intake,
    JobStore store,
    ConsumersMetrics metrics,
    IOptions<LeaseOptions> options,
    TimeProvider time,
    ILogger<HeartbeatService> logger) : BackgroundService
{
    private int consecutiveFailures;
    private long failingSince;

    /// <summary>True while beats are failing past the self-fencing threshold; the worker takes no new work then.</summary>
    public bool IsFenced { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogMode(options.Value.Enforce ? "enforcing" : "observe only", options.Value.HeartbeatInterval.TotalSeconds, options.Value.LeaseTimeout.TotalSeconds);
        using var timer = new PeriodicTimer(options.Value.HeartbeatInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await BeatAsync(stoppingToken);
        }
    }

    /// <summary>One beat; public so tests can drive it without waiting for the timer.</summary>
    public async Task BeatAsync(CancellationToken cancellationToken)
    {
        var active = registry.Snapshot();
        if (active.Count == 0)
        {
            consecutiveFailures = 0;
            if (IsFenced)
            {
                // Nothing runs here any more, so nothing can run twice: take work again (acquire itself needs the database).
                IsFenced = false;
                await intake.OpenAsync("heartbeat", cancellationToken);
            }

            return;
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.Value.HeartbeatInterval * 2);
            var alive = await store.HeartbeatAsync([.. active.Select(a => new HeartbeatEntry(a.Lease.JobId, a.Lease.Token, a.ProgressPercent))], timeout.Token);
            metrics.Heartbeats.Add(1);
            if (consecutiveFailures > 0)
            {
                LogRecovered(consecutiveFailures);
            }

            consecutiveFailures = 0;
            IsFenced = false;
            // A job that finished while the beat was in flight is not a lost lease.
            foreach (var job in active.Where(a => !alive.Contains(a.Lease.JobId) && !a.IsFinishing && registry.IsActive(a)))
            {
                LogLeaseLost(job.Lease.JobId, job.Lease.Attempt);
                if (options.Value.Enforce)
                {
                    job.Stop(StopReason.LeaseLost);
                }
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            metrics.HeartbeatFailures.Add(1);
            if (consecutiveFailures++ == 0)
            {
                failingSince = time.GetTimestamp();
            }

            if (consecutiveFailures > options.Value.WarnAfterFailedBeats)
            {
                LogBeatsFailing(consecutiveFailures, ex.Message);
            }

            var failingFor = time.GetElapsedTime(failingSince) + options.Value.HeartbeatInterval;
            var fenceAfter = TimeSpan.FromTicks((long)(MinLeaseTimeout(active).Ticks * options.Value.SelfFenceFraction));
            if (failingFor >= fenceAfter)
            {
                LogSelfFencing(active.Count, failingFor.TotalSeconds);
                if (options.Value.Enforce)
                {
                    IsFenced = true;
                    intake.Close("heartbeat");
                    foreach (var job in active)
                    {
                        job.Stop(StopReason.LeaseLost);
                    }
                }
            }
        }
    }

    private static TimeSpan MinLeaseTimeout(IReadOnlyList<ActiveJob> active) =>
        TimeSpan.FromSeconds(active.Min(a => a.Lease.LeaseTimeoutSeconds));

    [LoggerMessage(Level = LogLevel.Information, Message = "Heartbeat {Mode}: every {IntervalSeconds}s, lease timeout {LeaseSeconds}s")]
    private partial void LogMode(string mode, double intervalSeconds, double leaseSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease lost for job {JobId} attempt {Attempt}: another attempt owns it now; stopping this one")]
    private partial void LogLeaseLost(Guid jobId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat failed {Failures} times in a row: {Error}")]
    private partial void LogBeatsFailing(int failures, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Heartbeat recovered after {Failures} failed beats")]
    private partial void LogRecovered(int failures);

    [LoggerMessage(Level = LogLevel.Error, Message = "Heartbeats failing for {Seconds:F1}s, close to the lease timeout: stopping {Count} local jobs so that no other worker runs them twice")]
    private partial void LogSelfFencing(int count, double seconds);
}
