using Consumers.Runtime.Flow.Lanes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Flow.Adaptive;

/// <summary>
/// When <c>Consumers:Flow:Adaptive:Enabled</c>, moves each lane's slots with <see cref="AdaptiveSlotPolicy"/> every
/// interval, logging each change; <see cref="LaneMetrics"/> exports them.
/// </summary>
internal sealed partial class AdaptiveConcurrencyController(
    JobLanes lanes,
    IOptions<FlowOptions> flowOptions,
    TimeProvider time,
    ILogger<AdaptiveConcurrencyController> logger) : BackgroundService
{
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
