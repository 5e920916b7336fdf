using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Consumers.Runtime.Messaging;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Flow;

/// <summary>
/// Samples CPU (from /proc/stat) and the depth of watched queues (RabbitMQ management API) and closes the job
/// intake while the <see cref="PressureGate"/> says so (seed 5). Running jobs and the outbox relay are not
/// affected; health reports Degraded while paused.
/// </summary>
public sealed partial class BackpressureMonitor(
    JobIntake intake,
    ConsumersMetrics metrics,
    IOptions<FlowOptions> flowOptions,
    IOptions<RabbitMqOptions> rabbitOptions,
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
        using var http = new HttpClient { BaseAddress = new Uri(options.ManagementUri.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(5) };
        var rabbit = rabbitOptions.Value;
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{rabbit.Username}:{rabbit.Password}")));
        using var timer = new PeriodicTimer(options.SampleInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var cpu = cpuSampler.Sample();
            var deepest = await DeepestQueueAsync(http, rabbit.VirtualHost, options.WatchQueues, stoppingToken);
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

    private static async Task<long?> DeepestQueueAsync(HttpClient http, string vhost, List<string> queues, CancellationToken cancellationToken)
    {
        long? deepest = null;
        foreach (var queue in queues)
        {
            try
            {
                var info = await http.GetFromJsonAsync<JsonObject>($"api/queues/{Uri.EscapeDataString(vhost)}/{Uri.EscapeDataString(queue)}", cancellationToken);
                var messages = info?["messages"]?.GetValue<long>() ?? 0;
                deepest = Math.Max(deepest ?? 0, messages);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
            {
                // No answer is no signal: never pause because the monitor itself cannot see.
            }
        }

        return deepest;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backpressure ({Reason}): pausing job intake (cpu {Cpu:P0}, deepest watched queue {Depth})")]
    private partial void LogPaused(string reason, double cpu, long depth);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pressure gone: resuming job intake (cpu {Cpu:P0}, deepest watched queue {Depth})")]
    private partial void LogResumed(double cpu, long depth);
}
