using System.Diagnostics.Metrics;
using Consumers.Runtime.Stages;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Hosting;

namespace Consumers.Runtime.Flow.Lanes;

/// <summary>
/// Exports the slots of each lane (<c>worker_job_slots</c>, with <c>lane=worker</c> for the whole worker) and
/// starts <c>worker_concurrent_jobs</c> at zero for every known stage, so a dashboard shows idle stages too.
/// </summary>
internal sealed class LaneMetrics(JobLanes lanes, StageRegistry stages, ConsumersMetrics metrics) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        metrics.TrackStages(stages.Names);
        metrics.ObserveGauges("worker_job_slots", () =>
                lanes.All.Select(l => new Measurement<int>(l.Slots.Capacity, new KeyValuePair<string, object?>("lane", l.Name)))
                    .Append(new Measurement<int>(lanes.Worker.Capacity, new KeyValuePair<string, object?>("lane", JobLane.WorkerName))),
            "Slots per lane now (lane=worker: the whole worker's ConcurrentJobs).");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
