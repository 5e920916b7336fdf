using Consumers.Contracts;

namespace Consumers.Runtime.Jobs;

/// <summary>A job that looks stuck, and why.</summary>
public sealed record StuckJob(JobRecord Job, string Why);

/// <summary>
/// The rules of <c>consumers stuck</c> and the admin API: processing jobs without a fresh heartbeat or past their
/// deadline, and queued jobs waiting longer than the caller's limit.
/// </summary>
public static class StuckJobs
{
    // Processing rows are bounded by the slots of all workers, so filtering here is cheap.
    private const int Scan = 10_000;

    public static async Task<List<StuckJob>> FindAsync(JobQueries queries, TimeSpan queuedLongerThan, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var processing = await queries.ListAsync(JobStatuses.Processing, null, Scan, cancellationToken);
        var queued = await queries.ListAsync(JobStatuses.Queued, null, Scan, cancellationToken);
        return [.. processing
            .Select(j => (Job: j, Why: j.ProcessingDeadlineAt < now ? "past its deadline (hung)"
                : j.LastHeartbeatAt < now.AddSeconds(-j.LeaseTimeoutSeconds) ? $"no heartbeat for {(now - j.LastHeartbeatAt!.Value).TotalSeconds:F0}s (lease {j.LeaseTimeoutSeconds}s)"
                : null))
            .Concat(queued.Select(j => (Job: j, Why: j.UpdatedAt < now - queuedLongerThan
                ? $"queued for {(now - j.UpdatedAt).TotalMinutes:F0} min ({(j.Dispatched ? "dispatched" : "waiting for its retry")})"
                : null)))
            .Where(s => s.Why is not null)
            .Select(s => new StuckJob(s.Job, s.Why!))];
    }
}
