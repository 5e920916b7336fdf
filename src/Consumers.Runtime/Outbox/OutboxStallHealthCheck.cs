using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Outbox;

/// <summary>
/// Degraded while the oldest unpublished outbox message is older than <see cref="OutboxOptions.StallThreshold"/>:
/// jobs are not dispatched and timelines not published, whichever worker should be doing it.
/// </summary>
public sealed class OutboxStallHealthCheck(OutboxBacklogMonitor monitor, IOptions<OutboxOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var age = monitor.OldestAgeSeconds;
        var threshold = options.Value.StallThreshold.TotalSeconds;
        return Task.FromResult(age <= threshold
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Degraded(string.Create(CultureInfo.InvariantCulture,
                $"outbox stalled: the oldest unpublished message is {age:F0}s old (threshold {threshold:F0}s), {monitor.Backlog} waiting")));
    }
}
