using System.Collections.Concurrent;
using Consumers.Runtime.Jobs;

namespace Consumers.Runtime.Leases;

/// <summary>The attempts running in this process; the heartbeat and the shutdown drain read it.</summary>
public sealed class ActiveJobRegistry
{
    private readonly ConcurrentDictionary<Guid, ActiveJob> jobs = new();
    private long registered;

    public int Count => jobs.Count;

    /// <summary>Attempts registered since start; unchanged between two looks means no job started in between.</summary>
    public long Registered => Interlocked.Read(ref registered);

    /// <param name="lease">The lease the acquire took.</param>
    /// <param name="acquiredAt">Monotonic timestamp taken before the acquire was sent: the lease's clock starts there.</param>
    public ActiveJob Register(JobLease lease, long acquiredAt)
    {
        Interlocked.Increment(ref registered);
        var job = new ActiveJob(lease, acquiredAt);
        jobs[lease.JobId] = job;
        return job;
    }

    public void Unregister(ActiveJob job)
    {
        jobs.TryRemove(new KeyValuePair<Guid, ActiveJob>(job.Lease.JobId, job));
        job.Dispose();
    }

    public IReadOnlyList<ActiveJob> Snapshot() => [.. jobs.Values];

    public bool IsActive(ActiveJob job) => jobs.TryGetValue(job.Lease.JobId, out var current) && ReferenceEquals(current, job);
}
