namespace Consumers.Runtime.Jobs;

/// <summary>Runs work on a <see cref="JobStore"/> whose statements share one transaction, committed when the work returns.</summary>
public interface IJobTransactions
{
    Task<T> RunAsync<T>(Func<JobStore, CancellationToken, Task<T>> work, CancellationToken cancellationToken);
}
