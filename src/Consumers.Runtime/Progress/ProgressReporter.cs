using Consumers.Runtime.Leases;
using Microsoft.Extensions.Logging;

namespace Consumers.Runtime.Progress;

/// <summary>
/// The <see cref="IProgress{T}"/> a stage reports to. Every report updates what the heartbeat persists; those
/// the throttle lets through become <c>progress</c> events, written one at a time in order by a single pump
/// so that a slow database never blocks the stage.
/// </summary>
internal sealed class ProgressReporter : IProgress<double>, IAsyncDisposable
{
    private readonly ActiveJob job;
    private readonly IProgressStore store;
    private readonly ProgressThrottle throttle;
    private readonly ILogger logger;
    private readonly SemaphoreSlim signal = new(0);
    private readonly Lock gate = new();
    private readonly Task pump;
    private int pending = -1;
    private bool completed;

    public ProgressReporter(ActiveJob job, IProgressStore store, ProgressThrottle throttle, ILogger logger)
    {
        this.job = job;
        this.store = store;
        this.throttle = throttle;
        this.logger = logger;
        pump = Task.Run(PumpAsync);
    }

    /// <summary>The highest percent written as an event.</summary>
    public int LastWritten { get; private set; }

    public void Report(double value)
    {
        int? emit;
        lock (gate)
        {
            emit = throttle.Offer(value);
            if (emit is { } percent)
            {
                pending = percent;
            }
        }

        job.RecordProgress(throttle.Latest);
        if (emit is not null)
        {
            signal.Release();
        }
    }

    /// <summary>Writes what is pending and stops; call before finishing the attempt so events stay in order.</summary>
    public async ValueTask DisposeAsync()
    {
        completed = true;
        signal.Release();
        try
        {
            await pump.WaitAsync(job.Stopping);
        }
        catch (OperationCanceledException)
        {
            // Stopped (fenced, lease lost, shutdown): the pump's last write is cancelled and ends on its own; nothing
            // the attempt does next waits for it, and the fenced writes that follow cannot be overtaken by it.
            return;
        }

        signal.Dispose();
    }

    private async Task PumpAsync()
    {
        while (true)
        {
            await signal.WaitAsync();
            int percent;
            lock (gate)
            {
                percent = pending;
                pending = -1;
            }

            if (percent > LastWritten)
            {
                try
                {
                    // A stopped attempt (fenced, lease lost, shutdown) does not wait on a database that may not answer.
                    if (await store.AppendProgressAsync(job.Lease, percent, job.Stopping))
                    {
                        LastWritten = percent;
                    }
                }
                catch (Exception ex)
                {
                    // Progress is advisory: the heartbeat carries the latest percent anyway.
                    logger.LogDebug(ex, "Progress event for job {JobId} not written", job.Lease.JobId);
                }
            }

            if (completed)
            {
                return;
            }
        }
    }
}
