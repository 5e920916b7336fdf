using System.Diagnostics;
using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Persistence;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// The failure decision of an attempt: a transient code with attempts left schedules a retry (<c>retry_scheduled</c>,
/// backoff from the code's policy); a fatal code fails the job with it, and a transient one without attempts left fails
/// it as <c>RETRIES_EXHAUSTED</c> naming the last code. The worker's own database failures are never charged.
/// </summary>
public sealed partial class AttemptFailures(
    JobStore store,
    OutcomeWriter outcomes,
    ConsumersMetrics metrics,
    IOptions<RetryOptions> retryOptions,
    TimeProvider time,
    ILogger<AttemptFailures> logger)
{
    /// <param name="keptBytes">Bytes of the attempt's scratch kept for inspection (0: none).</param>
    public async Task<AttemptOutcome> HandleAsync(ActiveJob job, string stageLabel, Exception exception, long keptBytes, string? scratchPath)
    {
        var lease = job.Lease;
        var error = ErrorClassifier.Classify(exception);
        metrics.JobFailures.Add(1, new TagList { { "stage", stageLabel }, { "code", error.Code }, { "class", error.IsFatal ? "fatal" : "transient" } });
        if (keptBytes > 0)
        {
            metrics.ScratchBytesKept.Add(keptBytes, new KeyValuePair<string, object?>("stage", stageLabel));
            LogScratchKept(scratchPath!, keptBytes);
        }

        job.MarkFinishing();
        long? scratchBytes = keptBytes > 0 ? keptBytes : null;
        var decision = retryOptions.Value.Decide(error.Code, lease.Attempt, lease.ChargedAttempts, lease.MaxAttempts,
            databaseFailure: DatabaseFailures.IsUnavailable(exception));
        if (!error.IsFatal && decision.Retry)
        {
            var delay = decision.Policy.DelayFor(decision.BackoffStep, Random.Shared);
            var notBefore = time.GetUtcNow() + delay;
            var scheduled = TimelineEntries.RetryScheduled(error.Code, error.Message, lease.Attempt, notBefore, decision.ChargesAttempt, scratchBytes);
            var outcome = await outcomes.WriteAsync(job, scheduled,
                token => store.ScheduleRetryAsync(lease, error.Code, error.Message, notBefore, decision.ChargesAttempt, [scheduled], token),
                AttemptOutcome.RetryScheduled);
            metrics.RetryAttempts.Add(1, new KeyValuePair<string, object?>("code", error.Code));
            LogRetry(error.Code, error.Message, delay.TotalSeconds);
            return outcome;
        }

        var code = error.IsFatal ? error.Code : ErrorCodes.RetriesExhausted;
        var message = error.IsFatal ? error.Message
            : decision.AttemptsUsed < decision.Limit
                ? $"{lease.Attempt} attempts in all, the most a job may make for {error.Code}; last error {error.Code}: {error.Message}"
                : $"{decision.AttemptsUsed} attempts failed, {decision.Limit} allowed; last error {error.Code}: {error.Message}";
        var failed = TimelineEntries.Failed(code, message, error.Field, error.IsFatal ? null : error.Code, lease.Attempt, scratchBytes);
        var written = await outcomes.WriteAsync(job, failed, token => store.FailAsync(lease, code, message, [failed], token), AttemptOutcome.Failed);
        LogFailed(exception, code, message);
        return written;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Transient failure {Code}: {Message}; retrying in {DelaySeconds:F1}s")]
    private partial void LogRetry(string code, string message, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job failed with {Code}: {Message}")]
    private partial void LogFailed(Exception exception, string code, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kept scratch folder {Path} of the failed attempt ({Bytes} bytes)")]
    private partial void LogScratchKept(string path, long bytes);
}
