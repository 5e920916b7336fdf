using Consumers.Contracts;
using Consumers.Runtime.Checkpoints;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Progress;
using Consumers.Runtime.Stages;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Jobs;

/// <summary>Runs a stage for an attempt in its scratch folder, with its span and its throttled progress events.</summary>
public sealed class StageExecution(
    JobStore store,
    IHostApplicationLifetime lifetime,
    IOptions<WorkerOptions> workerOptions,
    TimeProvider time,
    ILogger<StageExecution> logger)
{
    /// <returns>The stage's output and the last progress percent written as an event (0: none).</returns>
    public async Task<(StageOutput Output, int LastProgress)> RunAsync(
        ActiveJob job, IStage stage, JobRequested request, string sourcePath, string scratchPath, string stageLabel, StageCheckpoint checkpoint)
    {
        var lease = job.Lease;
        var throttle = new ProgressThrottle(workerOptions.Value.ProgressMinDelta, workerOptions.Value.ProgressMinInterval, time);
        var reporter = new ProgressReporter(job, store, throttle, logger);
        StageOutput output;
        await using (reporter)
        {
            using var stageSpan = ConsumersActivitySource.Source.StartActivity("job.stage").TagDelivery("stage");
            stageSpan?.SetTag("job.id", lease.JobId);
            stageSpan?.SetTag("job.stage", stageLabel);
            stageSpan?.SetTag("job.attempt", lease.Attempt);
            var context = new StageContext(lease.JobId, lease.Attempt, request, sourcePath, scratchPath, reporter)
            {
                Checkpoint = checkpoint,
                ShutdownRequested = lifetime.ApplicationStopping,
            };
            try
            {
                output = await stage.RunAsync(context, job.Stopping);
            }
            catch (Exception ex) when (job.Reason == StopReason.None && ex is not FanOutRequestedException)
            {
                // A stage that failed on its own (not stopped by a shutdown or a lost lease, not handing its segments to
                // segment jobs) fails its span with the code.
                var error = ErrorClassifier.Classify(ex);
                stageSpan.Fail(error.Code, error.Message);
                throw;
            }
        }

        return (output, reporter.LastWritten);
    }
}
