using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Consumers.Runtime.Messaging;

/// <summary>Unhealthy while a job endpoint cannot consume from RabbitMQ: the worker takes no work then, whatever else is fine.</summary>
public sealed class BrokerHealthCheck(BrokerLink link) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(link.Problem() is { } problem ? HealthCheckResult.Unhealthy(problem) : HealthCheckResult.Healthy());
}
