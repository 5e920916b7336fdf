using Consumers.Contracts;
using Consumers.Runtime.Persistence;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// Bounds an acquire from outside (<see cref="DatabaseOptions.AcquireTimeout"/>), as the heartbeat and the database
/// probe are: on a path to PostgreSQL that accepts the connection but never answers, Npgsql ends the call only after
/// its own timeouts (about 19 s), and the delivery would sit on this worker all that time. Past the bound the caller
/// gets <see cref="AcquireTimedOutException"/> and hands the delivery back at once.
/// </summary>
/// <remarks>
/// The abandoned statement may still reach PostgreSQL and lease the row. That is harmless: no attempt starts here (its
/// result is only logged), the lease's token is known to nobody on this worker, so nothing can renew or write under
/// it; the row is <c>processing</c> under a lease nobody renews, and the sweep requeues it once the lease times out.
/// Every other worker's acquire of that job meanwhile sees it held and changes nothing.
/// </remarks>
public sealed partial class BoundedAcquire(
    JobAcquisition acquisition,
    ConsumersMetrics metrics,
    IOptions<DatabaseOptions> options,
    TimeProvider time,
    ILogger<BoundedAcquire> logger)
{
    public async Task<Acquired> AcquireAsync(JobRequested request, AcquireSettings settings, string stageLabel, CancellationToken cancellationToken)
    {
        var bound = options.Value.AcquireTimeout;
        // The call itself is never cancelled (the wait for it is): Npgsql sends its cancel request synchronously, on the
        // cancelling thread, and through a silent path that blocks the thread (a consumer's, or MassTransit's stopping an
        // endpoint) for as long as the connect timeout. Npgsql's own timeouts end an abandoned call.
        var call = acquisition.AcquireAsync(request, settings, CancellationToken.None);
        try
        {
            return await call.WaitAsync(bound, time, cancellationToken);
        }
        catch (TimeoutException) when (!call.IsCompleted)
        {
            metrics.AcquireTimeouts.Add(1, new KeyValuePair<string, object?>("stage", stageLabel));
            _ = WatchAbandonedAsync(call, request.JobId, bound);
            throw new AcquireTimedOutException(request.JobId, bound);
        }
    }

    // Observes the abandoned call so its end is logged (and its exception not left unobserved); it never starts an attempt.
    private async Task WatchAbandonedAsync(Task<Acquired> call, Guid jobId, TimeSpan bound)
    {
        try
        {
            var acquired = await call;
            if (acquired.Outcome is { Kind: AcquireOutcomeKind.Acquired, Lease: { } lease })
            {
                LogAbandonedLeaseLanded(jobId, bound.TotalSeconds, lease.Attempt);
            }
        }
        catch (Exception ex)
        {
            LogAbandonedEnded(jobId, ex.GetType().Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Job {JobId}: an acquire abandoned after {BoundSeconds:F1}s reached PostgreSQL later and leased attempt {Attempt}; it does not run here, the sweep requeues the job when that lease times out")]
    private partial void LogAbandonedLeaseLanded(Guid jobId, double boundSeconds, int attempt);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId}: the abandoned acquire ended with {Error}")]
    private partial void LogAbandonedEnded(Guid jobId, string error);
}

/// <summary>An acquire got no answer from PostgreSQL within <see cref="DatabaseOptions.AcquireTimeout"/> and was abandoned.</summary>
public sealed class AcquireTimedOutException(Guid jobId, TimeSpan bound)
    : TimeoutException($"the acquire of job {jobId} got no answer from PostgreSQL within {bound.TotalSeconds:F1}s (Consumers:Database:AcquireTimeout)")
{
    public Guid JobId { get; } = jobId;
}
