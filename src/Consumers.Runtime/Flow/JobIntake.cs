using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Leases;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace Consumers.Runtime.Flow;

/// <summary>
/// Opens and closes the job receive endpoint. Several parts may want it closed at once (shutdown, self-fencing
/// after failing heartbeats, backpressure); it is open only while none of them does. Closing cancels the
/// broker consumer, so deliveries that were prefetched but not started go back to the queue for other workers;
/// running jobs are not touched. It controls every lane's endpoint together.
/// </summary>
public sealed partial class JobIntake(ILogger<JobIntake> logger) : IReceiveEndpointObserver, IIntakeSwitch, IDisposable
{
    private readonly Lock gate = new();
    private readonly HashSet<string> closedBy = [];
    private readonly HashSet<string> queues = new(StringComparer.Ordinal);
    private readonly List<IReceiveEndpoint> endpoints = [];
    private readonly Dictionary<IReceiveEndpoint, Task> stops = [];
    private CancellationTokenSource open = new();

    /// <summary>A queue whose endpoint this controls; set before the bus starts.</summary>
    public void Watch(string queue)
    {
        lock (gate)
        {
            queues.Add(queue);
        }
    }

    /// <summary>Cancelled when the intake closes: deliveries still waiting for a slot then go back to their queue.</summary>
    public CancellationToken Closing
    {
        get
        {
            lock (gate)
            {
                return open.Token;
            }
        }
    }

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
        IReceiveEndpoint[] toStop = [];
        CancellationTokenSource? closing = null;
        lock (gate)
        {
            if (closedBy.Add(reason) && closedBy.Count == 1)
            {
                toStop = [.. endpoints];
                closing = open;
            }
        }

        if (closing is null)
        {
            return;
        }

        LogClosed(reason);
        // Outside the lock: waiting deliveries react to this at once.
        closing.Cancel();
        StopInBackground(toStop);
    }

    /// <summary>Withdraws <paramref name="reason"/>; the endpoint starts again when no reason is left.</summary>
    public async Task OpenAsync(string reason, CancellationToken cancellationToken)
    {
        IReceiveEndpoint[] toStart = [];
        lock (gate)
        {
            if (closedBy.Remove(reason) && closedBy.Count == 0)
            {
                toStart = [.. endpoints];
                // The old source is left to the collector: a racing Close may still be cancelling it.
                open = new CancellationTokenSource();
            }
        }

        if (toStart.Length == 0)
        {
            return;
        }

        // An endpoint still stopping (it waits for its in-flight deliveries, which may be whole jobs) cannot start
        // yet (MassTransit: "already started"); it starts once its stop is done, unless closed again by then.
        var startNow = new List<IReceiveEndpoint>();
        lock (gate)
        {
            foreach (var endpoint in toStart)
            {
                if (stops.TryGetValue(endpoint, out var stop) && !stop.IsCompleted)
                {
                    StartAfter(endpoint, stop);
                }
                else
                {
                    startNow.Add(endpoint);
                }
            }
        }

        await Task.WhenAll(startNow.Select(endpoint => endpoint.Start(cancellationToken).Ready.WaitAsync(cancellationToken)));

        // A close that came while the endpoints were starting stopped them before they ran: stop them again.
        bool closedMeanwhile;
        lock (gate)
        {
            closedMeanwhile = closedBy.Count > 0;
        }

        if (closedMeanwhile)
        {
            StopInBackground(toStart);
            return;
        }

        LogOpened(reason);
    }

    public Task Ready(ReceiveEndpointReady ready)
    {
        var queue = JobLane.QueueOf(ready.InputAddress);
        bool closed;
        lock (gate)
        {
            if (!queues.Contains(queue))
            {
                return Task.CompletedTask;
            }

            if (!endpoints.Contains(ready.ReceiveEndpoint))
            {
                endpoints.Add(ready.ReceiveEndpoint);
            }

            closed = closedBy.Count > 0;
        }

        // Closed before this endpoint came up (a lane that started late, a start racing a close): no work for it.
        if (closed)
        {
            StopInBackground([ready.ReceiveEndpoint]);
        }

        return Task.CompletedTask;
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;

    private void StopInBackground(IReceiveEndpoint[] toStop)
    {
        foreach (var endpoint in toStop)
        {
            // Stop waits for in-flight deliveries, which may take a whole job: let it finish in the background.
            var stop = Task.Run(() => endpoint.Stop(CancellationToken.None));
            lock (gate)
            {
                stops[endpoint] = stop;
            }

            _ = stop.ContinueWith(
                t => LogStopFailed(t.Exception!.GetBaseException().Message), CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
    }

    // Called under the lock, from OpenAsync.
    private void StartAfter(IReceiveEndpoint endpoint, Task stop) =>
        _ = stop.ContinueWith(async _ =>
        {
            lock (gate)
            {
                if (closedBy.Count > 0 || (stops.TryGetValue(endpoint, out var latest) && latest != stop))
                {
                    // Closed again meanwhile: that close's own stop and the next open take it from here.
                    return;
                }
            }

            try
            {
                await endpoint.Start(CancellationToken.None).Ready;
            }
            catch (Exception ex)
            {
                LogStopFailed("start after stop: " + ex.Message);
            }
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();

    public void Dispose()
    {
        lock (gate)
        {
            open.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job intake closed ({Reason}): no new deliveries; prefetched ones go back to the queue")]
    private partial void LogClosed(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job intake open again ({Reason} cleared)")]
    private partial void LogOpened(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping the job endpoint failed: {Error}")]
    private partial void LogStopFailed(string error);
}
