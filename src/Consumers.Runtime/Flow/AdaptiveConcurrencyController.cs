using Consumers.Runtime.Stages;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using System.Diagnostics.Metrics;

namespace Consumers.Runtime.Flow;

/// <summary>
/// Exports each lane's slots (<c>worker_job_slots</c>) and, when <c>Consumers:Flow:Adaptive:Enabled</c>, moves
/// them with <see cref="AdaptiveSlotPolicy"/> every interval, logging each change (seed 16.2).
/// </summary>
public sealed partial class AdaptiveConcurrencyController(
    JobLanes lanes,
    StageRegistry stages,
    ConsumersMetrics metrics,
    IOptions<FlowOptions> flowOptions,
    TimeProvider time,
    ILogger<AdaptiveConcurrencyController> logger) : BackgroundService
{
    public const string WorkerLabel = "worker";

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        metrics.TrackStages(stages.Names);
        metrics.ObserveGauges("worker_job_slots", () =>
                lanes.All.Select(l => new Measurement<int>(l.Slots.Capacity, new KeyValuePair<string, object?>("lane", l.Name)))
                    .Append(new Measurement<int>(lanes.Worker.Capacity, new KeyValuePair<string, object?>("lane", WorkerLabel))),
            "Slots per lane now (lane=worker: the whole worker's ConcurrentJobs).");
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = flowOptions.Value.Adaptive;
        if (!options.Enabled)
        {
            return;
        }

        var cpu = new CpuSampler();
        cpu.Sample();
        var previous = lanes.All.ToDictionary(l => l, _ => (Finished: 0L, Change: 0));
        LogEnabled(options.Interval.TotalSeconds, options.CpuHigh);
        using var timer = new PeriodicTimer(options.Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var busy = cpu.Sample();
            foreach (var lane in lanes.All)
            {
                var current = lane.Slots.Capacity;
                var finished = lane.TakeFinished();
                var sample = new LaneSample(busy, lane.Slots.TakePeak(), lane.Slots.InUse, finished, previous[lane].Finished, previous[lane].Change);
                var next = AdaptiveSlotPolicy.Next(current, lane.MinSlots, lane.MaxSlots, sample, options);
                if (next != current)
                {
                    lane.Slots.SetCapacity(next);
                    LogChanged(lane.Name, current, next, busy ?? 0, finished, sample.PeakInUse);
                }

                previous[lane] = (finished, Math.Sign(next - current));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Adaptive concurrency on: every {IntervalSeconds}s, cutting slots above {CpuHigh:P0} CPU")]
    private partial void LogEnabled(double intervalSeconds, double cpuHigh);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lane {Lane}: slots {From} -> {To} (cpu {Cpu:P0}, {Finished} finished, peak {Peak} busy)")]
    private partial void LogChanged(string lane, int from, int to, double cpu, long finished, int peak);
}
