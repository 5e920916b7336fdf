using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Consumers.Hosting;

/// <summary>Ready only while PostgreSQL answers: without it no job can be acquired or finished.</summary>
public sealed class DatabaseHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            // Npgsql answers a cancelled statement only after its cancel request (a new connection) gave up too, up to
            // the connect timeout later on a path that answers nothing: the probe does not wait for that.
            await command.ExecuteScalarAsync(timeout.Token).WaitAsync(TimeSpan.FromSeconds(3), cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy("PostgreSQL is not reachable: " + ex.Message);
        }
    }
}
