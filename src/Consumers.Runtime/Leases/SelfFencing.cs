namespace Consumers.Runtime.Leases;

/// <summary>
/// The self-fencing clock. Each attempt's lease was last stamped by the database no earlier than the moment the
/// renewing statement was sent (<see cref="ActiveJob.RenewedAt"/>), so it cannot expire anywhere before that moment
/// plus the lease timeout. An attempt is stopped here at <see cref="LeaseOptions.SelfFenceFraction"/> of its lease
/// after that moment, however its beats failed in between (errors, timeouts, a beat that never answers), so the
/// work has ended before the sweep may give the job to someone else.
/// </summary>
internal sealed class SelfFencing(LeaseOptions options, TimeProvider time)
{
    /// <summary>How long after its last renewal was sent <paramref name="job"/> is stopped here.</summary>
    public TimeSpan FenceAfter(ActiveJob job) => options.FenceAfter(TimeSpan.FromSeconds(job.Lease.LeaseTimeoutSeconds));

    /// <summary>Time since the statement that last renewed <paramref name="job"/>'s lease was sent.</summary>
    public TimeSpan SinceRenewed(ActiveJob job) => time.GetElapsedTime(job.RenewedAt);

    /// <summary>Attempts still running whose fence point has passed.</summary>
    public IReadOnlyList<ActiveJob> Overdue(IEnumerable<ActiveJob> jobs) =>
        // A job writing its outcome is not fenced: that write is fenced by its token, and stopping it would only end its renewals.
        [.. jobs.Where(j => j.Reason == StopReason.None && !j.IsFinishing && SinceRenewed(j) >= FenceAfter(j))];

    /// <summary>Time until the earliest fence point still ahead among the attempts running; null when there is none.</summary>
    public TimeSpan? UntilNextFence(IEnumerable<ActiveJob> jobs)
    {
        TimeSpan? next = null;
        foreach (var job in jobs.Where(j => j.Reason == StopReason.None && !j.IsFinishing))
        {
            var left = FenceAfter(job) - SinceRenewed(job);
            if (left > TimeSpan.Zero && (next is null || left < next))
            {
                next = left;
            }
        }

        return next;
    }

    /// <summary>Age of the oldest renewal among the attempts still running (zero when none runs): what the fence point is compared with.</summary>
    public TimeSpan OldestRenewalAge(IEnumerable<ActiveJob> jobs) =>
        jobs.Where(j => j.Reason == StopReason.None).Select(SinceRenewed).DefaultIfEmpty(TimeSpan.Zero).Max();

    /// <summary>How long a beat over <paramref name="jobs"/> may wait: a fraction of the shortest lease among them (the configured lease when there are none).</summary>
    public TimeSpan BeatTimeout(IReadOnlyCollection<ActiveJob> jobs)
    {
        var shortest = jobs.Count == 0
            ? options.LeaseTimeout
            : TimeSpan.FromSeconds(jobs.Min(j => j.Lease.LeaseTimeoutSeconds));
        return options.BeatTimeout(shortest);
    }
}
