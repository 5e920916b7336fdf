using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Flow.Backpressure;

/// <summary>
/// Samples CPU (from /proc/stat) and the depth of watched queues (RabbitMQ management API) and closes the job
/// intake while the <see cref="PressureGate"/> says so. Running jobs and the outbox relay are not
/// affected; health reports Degraded while paused.
/// </summary>
internal sealed partial class BackpressureMonitor(
    JobIntake intake,
    ConsumersMetrics metrics,
    IOptions<FlowOptions> flowOptions,
    IQueueDepthProbe queueDepth,
    TimeProvider time,
    ILogger<BackpressureMonitor> logger) : BackgroundService
{
    private readonly CpuSampler cpuSampler = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = flowOptions.Value.Backpressure;
        if (!options.Enabled)
        {
            return;
        }

        var gate = new PressureGate(options, time);
        metrics.ObserveGauge("worker_paused", () => gate.IsPaused ? 1 : 0, "1 while backpressure keeps this worker from taking new jobs.");
        using var timer = new PeriodicTimer(options.SampleInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var cpu = cpuSampler.Sample();
            var deepest = await queueDepth.DeepestAsync(options.WatchQueues, stoppingToken);
            if (!gate.Evaluate(cpu, deepest))
            {
                continue;
            }

            if (gate.IsPaused)
            {
                // Closed first, so whoever sees the pause counted finds the intake already closed.
                intake.Close("backpressure");
                metrics.Pauses.Add(1, new KeyValuePair<string, object?>("reason", gate.Reason));
                LogPaused(gate.Reason!, cpu ?? 0, deepest ?? 0);
            }
            else
            {
                LogResumed(cpu ?? 0, deepest ?? 0);
                await intake.OpenAsync("backpressure", stoppingToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backpressure ({Reason}): pausing job intake (cpu {Cpu:P0}, deepest watched queue {Depth})")]
    private partial void LogPaused(string reason, double cpu, long depth);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pressure gone: resuming job intake (cpu {Cpu:P0}, deepest watched queue {Depth})")]
    private partial void LogResumed(double cpu, long depth);
}
