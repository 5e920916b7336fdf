using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Consumers.Runtime.Flow;

/// <summary>Degraded (not unhealthy) while the job intake is closed: the worker is alive and finishing work, just not taking more.</summary>
public sealed class IntakeHealthCheck(JobIntake intake) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(intake.IsOpen
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Degraded("job intake closed: " + string.Join(", ", intake.ClosedBy)));
}
