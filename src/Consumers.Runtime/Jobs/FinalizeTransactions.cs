using System.Globalization;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Jobs.Sql;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Persistence;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// The transactions in which batched successes are written and their artifacts placed before the commit. They hold
/// row locks across file renames, so their sessions are ended by the server if left idle inside a transaction for half the
/// shortest lease (<c>idle_in_transaction_session_timeout</c>): a worker frozen mid-batch gives its rows back (its successes rolled back) before
/// their leases would be judged, and the sweep, which skips locked rows, rescues them as usual.
/// </summary>
public sealed class FinalizeTransactions : IJobTransactions, IAsyncDisposable
{
    private readonly NpgsqlDataSource dataSource;
    private readonly JobQueueName jobQueue;

    public FinalizeTransactions(IOptions<DatabaseOptions> database, IOptions<LeaseOptions> leases, JobQueueName jobQueue)
    {
        this.jobQueue = jobQueue;
        var builder = new NpgsqlDataSourceBuilder(database.Value.ConnectionString);
        var connection = builder.ConnectionStringBuilder;
        DataSources.Configure(connection, database.Value, pooled: true);
        connection.MaxPoolSize = 4;
        connection.MinPoolSize = 0;
        connection.ApplicationName = (connection.ApplicationName ?? "consumers") + "-finalize";
        var idle = string.Create(CultureInfo.InvariantCulture,
            $"-c idle_in_transaction_session_timeout={(long)IdleInTransactionTimeout(leases.Value).TotalMilliseconds}");
        connection.Options = string.IsNullOrWhiteSpace(connection.Options) ? idle : connection.Options + " " + idle;
        dataSource = builder.Build();
    }

    /// <summary>How long the server lets a finalize session sit idle inside a transaction before it ends the session.</summary>
    public static TimeSpan IdleInTransactionTimeout(LeaseOptions leases) => leases.ShortestLeaseTimeout / 2;

    public async Task<T> RunAsync<T>(Func<JobStore, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var result = await work(new JobStore(new SqlTarget(connection), jobQueue), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    public ValueTask DisposeAsync() => dataSource.DisposeAsync();
}
