using Consumers.Contracts;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Checkpoints;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Scratch;
using Consumers.Runtime.Stages;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// Runs one acquired attempt to its outcome: validation of the request, the existing-artifact check, the stage in a
/// scratch folder (with the job's checkpoint), the artifact commit, and the fenced final transition of whatever stopped
/// it (a lost lease, a cancel, a shutdown, a failure). The scratch folder goes unless a failed attempt keeps it; the
/// checkpoint goes when the job finished.
/// </summary>
public sealed class AttemptRunner(
    StageRegistry stages,
    ScratchSpace scratch,
    IOptions<ArtifactOptions> artifactOptions,
    StageExecution execution,
    ArtifactCommitter committer,
    AttemptFailures failures,
    OutcomeWriter outcomes,
    CheckpointCleanup checkpoints,
    TimeProvider time)
{
    /// <param name="started">When the attempt started (a <see cref="TimeProvider"/> timestamp), for its duration.</param>
    /// <param name="requestProblem">A body that did not fit the contract: the attempt fails at once with it.</param>
    public async Task<AttemptOutcome> RunAsync(JobRequested request, ActiveJob job, string stageLabel, long started, Failures.JobFailureException? requestProblem)
    {
        var lease = job.Lease;
        // A segment job's checkpoint is its parent's (the fenced write checks the row names that parent).
        var checkpoint = checkpoints.For(job, SegmentJobParameters.ParentOf(request));
        string? scratchPath = null;
        var removeScratch = false;
        var outcome = AttemptOutcome.LeaseLost;
        try
        {
            if (requestProblem is not null)
            {
                throw requestProblem;
            }

            JobRequestValidator.Validate(request, stages);
            stages.TryGet(request.Stage, out var stage);
            var sourcePath = stage.NeedsSource
                ? PathConfinement.ResolveSource(artifactOptions.Value.EffectiveMediaRoots, request.Source, "source")
                : "";

            if (await committer.TrySkipExistingAsync(request, job, stage) is { } skip)
            {
                return outcome = skip;
            }

            scratchPath = scratch.Create(lease.JobId, lease.Attempt);
            var (output, lastProgress) = await execution.RunAsync(job, stage, request, sourcePath, scratchPath, stageLabel, checkpoint);
            if (!output.IsArtifact)
            {
                removeScratch = true;
                return outcome = await committer.CompleteSegmentJobAsync(request, job, checkpoint, lastProgress, time.GetElapsedTime(started));
            }

            using var commitSpan = ConsumersActivitySource.Source.StartActivity("job.commit").TagDelivery("commit");
            outcome = await committer.CommitAsync(request, job, stage, output, lastProgress, time.GetElapsedTime(started));
            // Also when the final write was lost: the artifact is in place, and whichever attempt runs next skips.
            removeScratch = outcome is AttemptOutcome.Succeeded or AttemptOutcome.CommitLost;
            return outcome;
        }
        catch (Exception) when (job.Reason == StopReason.LeaseLost)
        {
            return outcome = outcomes.GiveBackAfterLeaseLoss(job);
        }
        catch (Exception) when (job.Reason == StopReason.Cancelled)
        {
            // The stage saw the token (ffmpeg's process tree is killed by then); its scratch goes, whatever the settings.
            removeScratch = true;
            return outcome = await outcomes.CancelAsync(job, stageLabel);
        }
        catch (StoppedAtCheckpointException) when (job.Reason == StopReason.None)
        {
            return outcome = await outcomes.GiveBackAtCheckpointAsync(job);
        }
        catch (FanOutRequestedException fanOut) when (job.Reason == StopReason.None)
        {
            removeScratch = true;
            return outcome = await outcomes.WaitForSegmentJobsAsync(job, request, fanOut);
        }
        catch (Exception) when (job.Reason == StopReason.Shutdown)
        {
            return outcome = await outcomes.GiveBackOnShutdownAsync(job);
        }
        catch (Exception ex)
        {
            // A cancel recorded before this failure wins, whether the control poll had not read it yet or it caused the failure.
            if (await outcomes.CancelIfRequestedAsync(job, stageLabel, ex) is { } cancelled)
            {
                removeScratch = true;
                return outcome = cancelled;
            }

            var keptBytes = scratchPath is not null && scratch.KeepOnFailure ? ScratchSpace.SizeOf(scratchPath) : 0;
            return outcome = await failures.HandleAsync(job, stageLabel, ex, keptBytes, scratchPath);
        }
        finally
        {
            if (scratchPath is not null && (removeScratch || !scratch.KeepOnFailure))
            {
                ScratchSpace.Delete(scratchPath);
            }

            // A finished job's checkpoint goes with it; one that goes on (retry, requeue, lost lease) keeps it for the next attempt.
            if (outcome is AttemptOutcome.Succeeded or AttemptOutcome.Skipped or AttemptOutcome.Failed or AttemptOutcome.Cancelled)
            {
                await checkpoints.ClearAsync(lease.JobId, mayHaveRow: checkpoint.Used || lease.Attempt > 1);
            }
        }
    }
}
