using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Consumers.Runtime.Control;

/// <summary>Always healthy (a pause is an operator's choice, not a fault), but says which stages are held.</summary>
public sealed class StagePauseHealthCheck(StagePauses pauses) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(pauses.Paused.Count == 0
            ? HealthCheckResult.Healthy("no stage paused")
            : HealthCheckResult.Healthy("paused: " + string.Join(", ", pauses.Paused.Order(StringComparer.Ordinal))));
}
