using System.Diagnostics;
using Consumers.Runtime.Persistence;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Consumers.Runtime.Flow;

/// <summary>
/// Keeps the job intake closed (reason <see cref="IntakeReason"/>) while PostgreSQL cannot take work: a probe on
/// a fresh, unpooled connection (so "out of connections" shows too) runs every <see cref="DatabaseOptions.ProbeInterval"/>,
/// and at once when a delivery's database call failed. Two failed probes in a row close the intake; the first
/// answer opens it. Deliveries are not touched here: the consumer hands back what it could not acquire.
/// </summary>
public sealed partial class DatabaseMonitor(
    JobIntake intake,
    [FromKeyedServices(DataSources.Session)] NpgsqlDataSource probeSource,
    ConsumersMetrics metrics,
    IOptions<DatabaseOptions> options,
    ILogger<DatabaseMonitor> logger) : BackgroundService
{
    /// <summary>The intake's close reason while PostgreSQL is unavailable.</summary>
    public const string IntakeReason = "database";

    private readonly Lock gate = new();
    private Task<bool>? probing;
    private volatile bool available = true;
    private long outages;

    // When PostgreSQL last answered again after an outage (Stopwatch ticks); 0 while this worker has seen none.
    private long answeringSince;

    /// <summary>False from the moment a probe confirmed PostgreSQL unavailable until one succeeds again.</summary>
    public bool IsAvailable => available;

    /// <summary>
    /// How long PostgreSQL has answered this worker since its last outage: zero while it does not, the largest value
    /// when this worker has seen no outage since it started.
    /// </summary>
    public TimeSpan AnsweringFor =>
        !available ? TimeSpan.Zero
        : Interlocked.Read(ref answeringSince) is var since and > 0 ? Stopwatch.GetElapsedTime(since)
        : TimeSpan.MaxValue;

    /// <summary>
    /// A delivery's database call failed as if PostgreSQL were unavailable: checks now (joining a probe already
    /// running) and returns whether it answers. The caller waits for the verdict, so a worker that cannot reach
    /// PostgreSQL closes its intake before handing the delivery back, instead of bouncing it around the queue.
    /// </summary>
    public Task<bool> ConfirmAsync(CancellationToken cancellationToken) => ProbeOnceAsync().WaitAsync(cancellationToken);

    /// <summary>
    /// A delivery's database call got no answer within its bound (<see cref="DatabaseOptions.AcquireTimeout"/>): the
    /// path is silent, and confirming it with probes would take two probe timeouts. Closes the intake now and probes at
    /// once; the first probe that gets an answer opens it again (at once, if PostgreSQL was only slow).
    /// </summary>
    public void ReportUnanswered(string what)
    {
        if (MarkUnavailable())
        {
            LogUnanswered(what);
            intake.Close(IntakeReason);
        }

        _ = ProbeOnceAsync().ContinueWith(t => LogProbeFailed(t.Exception!.GetBaseException().Message),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        metrics.ObserveGauge("database_available", () => available ? 1 : 0,
            "1 while PostgreSQL answers this worker's probe; 0 while the job intake is closed for it.");
        metrics.ObserveGauge("database_outages", () => Interlocked.Read(ref outages),
            "Times this worker found PostgreSQL unavailable and closed its intake (a running count).");
        using var timer = new PeriodicTimer(options.Value.ProbeInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await ProbeOnceAsync();
            }
            catch (Exception ex)
            {
                // The monitor must outlive anything the intake throws; the next tick tries again.
                LogProbeFailed(ex.Message);
            }
        }
    }

    // Concurrent callers share one probe; each probe updates the verdict and the intake.
    private Task<bool> ProbeOnceAsync()
    {
        lock (gate)
        {
            if (probing is { IsCompleted: false })
            {
                return probing;
            }

            probing = ProbeAndActAsync();
            return probing;
        }
    }

    private async Task<bool> ProbeAndActAsync()
    {
        var error = await ProbeAsync();
        if (error is null)
        {
            if (!available)
            {
                Interlocked.Exchange(ref answeringSince, Stopwatch.GetTimestamp());
                available = true;
                LogAvailable();
                try
                {
                    await intake.OpenAsync(IntakeReason, CancellationToken.None);
                }
                catch (Exception ex)
                {
                    // Not silently open-in-name-only: count it as unavailable still, and try again on the next probe.
                    available = false;
                    intake.Close(IntakeReason);
                    LogProbeFailed("reopening the intake: " + ex.Message);
                    return false;
                }
            }

            return true;
        }

        if (available)
        {
            // One broken connection (a terminated backend) is not an outage: a second failure in a row is.
            await Task.Delay(TimeSpan.FromMilliseconds(250));
            var again = await ProbeAsync();
            if (again is null)
            {
                return true;
            }

            // A silent acquire may have closed it while this probe waited: one outage, one line.
            if (MarkUnavailable())
            {
                LogUnavailable(again);
                intake.Close(IntakeReason);
            }
        }

        return false;
    }

    /// <returns>True for the caller that turned the verdict from available to unavailable (it counts the outage).</returns>
    private bool MarkUnavailable()
    {
        lock (gate)
        {
            if (!available)
            {
                return false;
            }

            available = false;
        }

        Interlocked.Increment(ref outages);
        return true;
    }

    /// <returns>Null when PostgreSQL answered in time, else why not.</returns>
    private async Task<string?> ProbeAsync()
    {
        var bound = options.Value.ProbeTimeout;
        using var timeout = new CancellationTokenSource(bound);
        try
        {
            // Bounded from outside as well: on a path that accepts the connection but never answers, Npgsql's open and
            // its cancel request wait out the connect timeout (15 s) whatever the token says. The probe does not wait.
            await SelectOneAsync(timeout.Token).WaitAsync(bound);
            return null;
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException && timeout.IsCancellationRequested)
        {
            return $"no answer within {bound.TotalSeconds:F0}s";
        }
        catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or IOException)
        {
            return ex.Message;
        }
    }

    private async Task SelectOneAsync(CancellationToken cancellationToken)
    {
        await using var connection = await probeSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        await command.ExecuteScalarAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "PostgreSQL is unavailable ({Reason}): job intake closed; deliveries go back to the queue until it answers")]
    private partial void LogUnavailable(string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "PostgreSQL did not answer {What}: job intake closed at once; deliveries go back to the queue until a probe gets an answer")]
    private partial void LogUnanswered(string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database monitor: {Error}")]
    private partial void LogProbeFailed(string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "PostgreSQL answers again: the job intake no longer waits for it")]
    private partial void LogAvailable();
}
