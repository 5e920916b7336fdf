using System.Collections.Concurrent;
using Consumers.Runtime.Jobs;

namespace Consumers.Runtime.Leases;

/// <summary>The attempts running in this process (seed 2.1); the heartbeat and the shutdown drain read it.</summary>
public sealed class ActiveJobRegistry
{
    private readonly ConcurrentDictionary<Guid, ActiveJob> jobs = new();

    public int Count => jobs.Count;

    public ActiveJob Register(JobLease lease)
    {
        var job = new ActiveJob(lease);
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
