using Consumers.Runtime.Flow;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Messaging;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Control;

/// <summary>
/// Where the deliveries of a paused stage wait: one queue per stage, <c>{JobQueue}.paused.{stage}</c>. A lane that
/// takes a job of a paused stage sends it here instead of starting it (the shared lane carries every stage, so it
/// cannot simply stop); each worker consumes the parking queue of a stage only while the stage is not paused, and
/// sends what it finds back to the stage's lane. So a pause holds exactly its stage, the messages stay in RabbitMQ,
/// and a resume releases them on every worker. This watches the parking endpoints and starts and stops them as the
/// pauses change.
/// </summary>
public sealed partial class ParkingLot : IReceiveEndpointObserver, IDisposable
{
    private readonly StagePauses pauses;
    private readonly ILogger<ParkingLot> logger;
    private readonly Lock gate = new();
    private readonly Dictionary<string, IReceiveEndpoint> endpoints = new(StringComparer.Ordinal);
    private readonly HashSet<string> stopped = new(StringComparer.Ordinal);
    // One sync at a time: a start that overlapped a stop still under way would fail and leave the stage's parked jobs stranded.
    private readonly SemaphoreSlim syncing = new(1, 1);
    private readonly string prefix;

    public ParkingLot(StagePauses pauses, Stages.StageRegistry stages, Telemetry.ConsumersMetrics metrics, IOptions<RabbitMqOptions> rabbitOptions,
        ILogger<ParkingLot> logger)
    {
        this.pauses = pauses;
        this.logger = logger;
        prefix = rabbitOptions.Value.JobQueue + ".paused.";
        pauses.Changed += changed => _ = SyncAsync();
        metrics.ObserveGauges("stage_paused",
            () => stages.Names.Select(stage => new System.Diagnostics.Metrics.Measurement<int>(pauses.IsPaused(stage) ? 1 : 0,
                new KeyValuePair<string, object?>("stage", stage))),
            "1 while the stage is paused cluster-wide (as this worker last read it), else 0.");
    }

    /// <summary>The parking queue of <paramref name="stage"/>.</summary>
    public string QueueOf(string stage) => prefix + stage;

    public Task Ready(ReceiveEndpointReady ready)
    {
        var queue = JobLane.QueueOf(ready.InputAddress);
        if (!queue.StartsWith(prefix, StringComparison.Ordinal))
        {
            return Task.CompletedTask;
        }

        var stage = queue[prefix.Length..];
        lock (gate)
        {
            endpoints[stage] = ready.ReceiveEndpoint;
        }

        // Paused already when this endpoint came up (pauses are read before the bus starts): it waits.
        if (pauses.IsPaused(stage))
        {
            _ = SyncAsync();
        }

        return Task.CompletedTask;
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;

    /// <summary>Brings every parking endpoint in line with the pause set as it is now (not as it was when asked).</summary>
    private async Task SyncAsync()
    {
        await syncing.WaitAsync();
        try
        {
            KeyValuePair<string, IReceiveEndpoint>[] all;
            lock (gate)
            {
                all = [.. endpoints];
            }

            foreach (var (stage, endpoint) in all)
            {
                try
                {
                    if (pauses.IsPaused(stage) && stopped.Add(stage))
                    {
                        await StopAsync(stage, endpoint);
                    }
                    else if (!pauses.IsPaused(stage) && stopped.Remove(stage))
                    {
                        await endpoint.Start(CancellationToken.None).Ready;
                    }
                }
                catch (Exception ex)
                {
                    LogSyncFailed(stage, ex.Message);
                }
            }
        }
        finally
        {
            syncing.Release();
        }
    }

    public void Dispose() => syncing.Dispose();

    private async Task StopAsync(string stage, IReceiveEndpoint endpoint)
    {
        try
        {
            // Quick: a parked delivery is only sent back to its lane, never run here.
            await endpoint.Stop(CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogSyncFailed(stage, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Parking endpoint of stage {Stage} did not follow the pause state: {Error}")]
    private partial void LogSyncFailed(string stage, string error);
}
