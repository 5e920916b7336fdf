using MassTransit;
using Microsoft.Extensions.Logging;

namespace Consumers.Runtime.Flow;

/// <summary>
/// Opens and closes the job receive endpoint. Several parts may want it closed at once (shutdown, self-fencing
/// after failing heartbeats, backpressure); it is open only while none of them does. Closing cancels the
/// broker consumer, so deliveries that were prefetched but not started go back to the queue for other workers;
/// running jobs are not touched.
/// </summary>
public sealed partial class JobIntake(ILogger<JobIntake> logger) : IReceiveEndpointObserver
{
    private readonly Lock gate = new();
    private readonly HashSet<string> closedBy = [];
    private IReceiveEndpoint? endpoint;
    private string? jobQueue;

    /// <summary>The queue whose endpoint this controls; set before the bus starts.</summary>
    public void Watch(string queue) => jobQueue = queue;

    public bool IsOpen
    {
        get
        {
            lock (gate)
            {
                return closedBy.Count == 0;
            }
        }
    }

    public IReadOnlyCollection<string> ClosedBy
    {
        get
        {
            lock (gate)
            {
                return [.. closedBy];
            }
        }
    }

    /// <summary>Stops taking new deliveries for <paramref name="reason"/>. Returns without waiting for running jobs.</summary>
    public void Close(string reason)
    {
        IReceiveEndpoint? toStop = null;
        lock (gate)
        {
            if (closedBy.Add(reason) && closedBy.Count == 1)
            {
                toStop = endpoint;
            }
        }

        if (toStop is not null)
        {
            LogClosed(reason);
            // Stop waits for in-flight deliveries, which may take a whole job: let it finish in the background.
            _ = toStop.Stop(CancellationToken.None).ContinueWith(
                t => LogStopFailed(t.Exception!.GetBaseException().Message), CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
    }

    /// <summary>Withdraws <paramref name="reason"/>; the endpoint starts again when no reason is left.</summary>
    public async Task OpenAsync(string reason, CancellationToken cancellationToken)
    {
        IReceiveEndpoint? toStart = null;
        lock (gate)
        {
            if (closedBy.Remove(reason) && closedBy.Count == 0)
            {
                toStart = endpoint;
            }
        }

        if (toStart is not null)
        {
            var handle = toStart.Start(cancellationToken);
            await handle.Ready.WaitAsync(cancellationToken);
            LogOpened(reason);
        }
    }

    public Task Ready(ReceiveEndpointReady ready)
    {
        if (jobQueue is not null && ready.InputAddress.AbsolutePath.EndsWith("/" + jobQueue, StringComparison.Ordinal))
        {
            lock (gate)
            {
                endpoint = ready.ReceiveEndpoint;
            }
        }

        return Task.CompletedTask;
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job intake closed ({Reason}): no new deliveries; prefetched ones go back to the queue")]
    private partial void LogClosed(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job intake open again ({Reason} cleared)")]
    private partial void LogOpened(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping the job endpoint failed: {Error}")]
    private partial void LogStopFailed(string error);
}
