using Consumers.Runtime.Leases;

namespace Consumers.Runtime.Progress;

/// <summary>Where throttled progress becomes a <c>progress</c> event; implemented by the job store, fenced by the lease.</summary>
internal interface IProgressStore
{
    /// <summary>Writes the event; false when the lease is gone and nothing was written.</summary>
    Task<bool> AppendProgressAsync(JobLease lease, int percent, CancellationToken cancellationToken);
}
