using System.Runtime.InteropServices;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Leases;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Consumers.Runtime.Flow.Shutdown;

/// <summary>
/// A deploy loses and strands no job: running jobs finish or are requeued before the process exits. Registered last, so the host stops it first, before
/// MassTransit (which would otherwise wait for every running job): stop taking work, let running jobs finish
/// up to the drain timeout, abort the rest (each requeues itself at once, not charged), give the outbox a
/// moment to publish, then let the host stop the bus. A second SIGTERM or Ctrl-C skips the rest of the drain.
/// </summary>
internal sealed partial class ShutdownDrain(
    JobIntake intake,
    ActiveJobRegistry activeJobs,
    JobLanes lanes,
    IOutboxBacklog outbox,
    IOptions<FlowOptions> options,
    ILogger<ShutdownDrain> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource hurry = new();
    private readonly List<PosixSignalRegistration> signals = [];
    private volatile bool draining;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT })
        {
            signals.Add(PosixSignalRegistration.Create(signal, context =>
            {
                if (draining)
                {
                    LogHurry(context.Signal.ToString());
                    hurry.Cancel();
                    context.Cancel = true;
                }
            }));
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        draining = true;
        var settings = options.Value;
        intake.Close("shutdown");
        LogDraining(activeJobs.Count, settings.DrainTimeout.TotalSeconds);
        using (var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, hurry.Token))
        {
            drain.CancelAfter(settings.DrainTimeout);
            await WaitUntilIdleAsync(drain.Token);
        }

        if (Busy)
        {
            LogAborting(activeJobs.Count);
            using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            abort.CancelAfter(settings.AbortTimeout);
            await WaitUntilIdleAsync(abort.Token, stopWhatRuns: true);
        }

        await FlushOutboxAsync(settings.OutboxFlushTimeout, cancellationToken);
        LogDrained(activeJobs.Count);
    }

    public void Dispose()
    {
        foreach (var signal in signals)
        {
            signal.Dispose();
        }

        hurry.Dispose();
    }

    // Busy counts deliveries that hold a slot but are still acquiring, not only registered jobs.
    private bool Busy => activeJobs.Count > 0 || lanes.Worker.InUse > 0;

    // While aborting, jobs that register late are stopped as they appear.
    private async Task WaitUntilIdleAsync(CancellationToken cancellationToken, bool stopWhatRuns = false)
    {
        while (Busy && !cancellationToken.IsCancellationRequested)
        {
            if (stopWhatRuns)
            {
                foreach (var job in activeJobs.Snapshot())
                {
                    try
                    {
                        job.Stop(StopReason.Shutdown);
                    }
                    catch (ObjectDisposedException)
                    {
                        // It finished between the snapshot and now.
                    }
                }
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    // The relay keeps running until after this service has stopped; wait (bounded) for it to empty the outbox.
    private async Task FlushOutboxAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var flush = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        flush.CancelAfter(timeout);
        try
        {
            while (!flush.IsCancellationRequested)
            {
                if (await outbox.IsEmptyAsync(flush.Token))
                {
                    return;
                }

                await Task.Delay(100, flush.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or NpgsqlException)
        {
            // Whatever is left is published by the next relay; nothing is lost.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutting down: {Count} running job(s) get up to {Seconds}s to finish")]
    private partial void LogDraining(int count, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain time is up: aborting {Count} job(s); they are requeued for another worker at once")]
    private partial void LogAborting(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Signal} again: skipping the rest of the drain")]
    private partial void LogHurry(string signal);

    [LoggerMessage(Level = LogLevel.Information, Message = "Drain finished ({Count} job(s) still registered)")]
    private partial void LogDrained(int count);
}
