using Consumers.Contracts;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Stages;
using Consumers.Runtime.Timeline;
using Microsoft.Extensions.Logging;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// An attempt's artifact: an existing valid artifact finishes the job without running it (an invalid one is moved
/// aside), and a stage's output is validated, moved into place without replacing anything while the attempt's lease
/// is held, and recorded with the job in the attempt's fenced success write (batched with other jobs' successes by
/// <see cref="CompletionBatcher"/>, which also places their artifacts).
/// </summary>
public sealed partial class ArtifactCommitter(IArtifactStore artifacts, JobStore store, CompletionBatcher completions, OutcomeWriter outcomes,
    ILogger<ArtifactCommitter> logger)
{
    /// <summary>
    /// When a valid artifact already exists, finishes the job as succeeded with a <c>skipped</c> event and returns how
    /// that write ended: <see cref="AttemptOutcome.Skipped"/> only when it landed (a lost lease is
    /// <see cref="AttemptOutcome.LeaseLost"/>). Null: no valid artifact, run the stage.
    /// </summary>
    public async Task<AttemptOutcome?> TrySkipExistingAsync(JobRequested request, ActiveJob job, IStage stage)
    {
        var existing = await artifacts.DescribeAsync(request.OutputKey, job.Stopping);
        if (existing is null)
        {
            return null;
        }

        if (!await IsValidAsync(stage, artifacts.PathOf(request.OutputKey), existing.Size, job.Stopping))
        {
            var aside = await artifacts.QuarantineAsync(request.OutputKey, job.Stopping);
            LogQuarantinedArtifact(request.OutputKey, aside);
            return null;
        }

        var skipped = TimelineEntries.Skipped(existing);
        job.MarkFinishing();
        var result = await stage.DescribeResultAsync(artifacts.PathOf(request.OutputKey), job.Stopping);
        return await outcomes.WriteAsync(job, skipped, token => completions.SucceedAsync(Completion.Of(job.Lease, existing, [skipped], result), token), AttemptOutcome.Skipped);
    }

    /// <summary>
    /// Validates the output, moves it into place without replacing anything while the lease is held, and writes the
    /// success (a progress that showed ends at 100, then <c>completed</c>). A job written in a batch stages the file
    /// (flushed, hashed) and leaves the placement to the batch's transaction, which places it after the fenced success
    /// write locked its row and before the commit; a pipeline step or segment job checks the lease, places the file and
    /// writes its success alone.
    /// </summary>
    /// <param name="lastProgress">The last progress percent the attempt wrote (0: none).</param>
    public async Task<AttemptOutcome> CommitAsync(JobRequested request, ActiveJob job, IStage stage, StageOutput output, int lastProgress, TimeSpan duration)
    {
        await ValidateAsync(job, stage, output);
        if (!CompletionBatcher.IsBatched(job.Lease))
        {
            return await CommitAloneAsync(request, job, stage, output, lastProgress, duration);
        }

        if (await artifacts.StageAsync(output.FilePath, request.OutputKey, job.Stopping) is not { } staged)
        {
            // Another attempt committed first. Its file is whole (commits never expose partial files); record it as ours.
            return await SucceedWithExistingAsync(request, job, stage, lastProgress, duration);
        }

        try
        {
            return await PlaceAndSucceedAsync(request, job, stage, staged, lastProgress, duration);
        }
        finally
        {
            // Not placed (lease lost, the database away, a failure): the file goes back to scratch. A placed one has
            // left staging, so this does nothing for it.
            TryUnstage(staged);
        }
    }

    // Never throws: a file left in staging must not turn an outcome already written into an exception.
    private void TryUnstage(StagedArtifact staged)
    {
        try
        {
            artifacts.Unstage(staged);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogUnstageFailed(staged.StagedPath, ex.Message);
        }
    }

    private async Task<AttemptOutcome> PlaceAndSucceedAsync(JobRequested request, ActiveJob job, IStage stage, StagedArtifact staged, int lastProgress,
        TimeSpan duration)
    {
        // Read from the staged file, which is the artifact byte for byte: what later steps are offered is what it says.
        var result = await stage.DescribeResultAsync(staged.StagedPath, job.Stopping);
        var events = SuccessEvents(staged.Record, lastProgress, duration);
        job.MarkFinishing();
        var written = staged.Record;
        Completion? existing = null;
        var outcome = await outcomes.WriteAsync(job, events[^1], async token =>
        {
            if (existing is null)
            {
                var write = await completions.PlaceAndSucceedAsync(Completion.Of(job.Lease, staged.Record, events, result) with { Staged = staged });
                if (write != CompletionWrite.ArtifactExists)
                {
                    return write == CompletionWrite.Written;
                }

                // An artifact was under the key when the batch came to place this one: another attempt's, or this
                // attempt's own from a batch whose commit did not land. Either is whole; record it, fenced, instead.
                artifacts.Unstage(staged);
                written = await DescribeCommittedAsync(request.OutputKey, job.Stopping);
                existing = Completion.Of(job.Lease, written, SuccessEvents(written, lastProgress, duration), result);
            }

            return await completions.SucceedAsync(existing, token);
        }, AttemptOutcome.Succeeded);
        if (outcome == AttemptOutcome.Succeeded)
        {
            LogCompleted(written.Key, written.Size);
        }

        return outcome;
    }

    /// <summary>
    /// A segment job's success: its segments are already in its parent's checkpoint (each written fenced), so there is no
    /// artifact; the fenced success write also dispatches the parent when this was its last segment job.
    /// </summary>
    public async Task<AttemptOutcome> CompleteSegmentJobAsync(JobRequested request, ActiveJob job, Checkpoints.StageCheckpoint checkpoint, int lastProgress,
        TimeSpan duration)
    {
        var parent = checkpoint.SegmentOf
            ?? throw new JobFailureException(ErrorCodes.Internal, "the stage returned no artifact, which only a segment job may do");
        var events = new List<TimelineEntry>();
        if (lastProgress is > 0 and < 100)
        {
            events.Add(TimelineEntries.Progress(100));
        }

        var parameters = request.Parameters ?? new Dictionary<string, string>();
        events.Add(TimelineEntries.CompletedSegments(parent, parameters.GetValueOrDefault(Checkpoints.SegmentJobParameters.First),
            parameters.GetValueOrDefault(Checkpoints.SegmentJobParameters.End), duration));
        job.MarkFinishing();
        return await outcomes.WriteAsync(job, events[^1], token => store.SucceedWithoutArtifactAsync(job.Lease, events, token), AttemptOutcome.Succeeded);
    }

    private async Task<AttemptOutcome> CommitAloneAsync(JobRequested request, ActiveJob job, IStage stage, StageOutput output, int lastProgress, TimeSpan duration)
    {
        // A cancel (or a lost lease) that came while the stage was finishing keeps the artifact out.
        job.Stopping.ThrowIfCancellationRequested();
        if (!await store.IsLeaseHeldAsync(job.Lease, job.Stopping))
        {
            return outcomes.LeaseLost(job);
        }

        var committed = await artifacts.CommitAsync(output.FilePath, request.OutputKey, job.Stopping);
        if (committed is null)
        {
            return await SucceedWithExistingAsync(request, job, stage, lastProgress, duration);
        }

        return await SucceedAsync(request, job, stage, committed, lastProgress, duration);
    }

    private async Task<AttemptOutcome> SucceedWithExistingAsync(JobRequested request, ActiveJob job, IStage stage, int lastProgress, TimeSpan duration)
    {
        var existing = await DescribeCommittedAsync(request.OutputKey, job.Stopping);
        return await SucceedAsync(request, job, stage, existing, lastProgress, duration);
    }

    // The artifact another commit put under the key: commits never expose partial files, so it is whole.
    private async Task<ArtifactRecord> DescribeCommittedAsync(string outputKey, CancellationToken cancellationToken) =>
        await artifacts.DescribeAsync(outputKey, cancellationToken)
        ?? throw new JobFailureException(ErrorCodes.ArtifactInvalid, "the artifact vanished while it was committed");

    private async Task<AttemptOutcome> SucceedAsync(JobRequested request, ActiveJob job, IStage stage, ArtifactRecord committed, int lastProgress,
        TimeSpan duration)
    {
        var events = SuccessEvents(committed, lastProgress, duration);
        // Read from the committed file: what later steps of a pipeline are offered is what the artifact says.
        var result = await stage.DescribeResultAsync(artifacts.PathOf(request.OutputKey), job.Stopping);
        job.MarkFinishing();
        var outcome = await outcomes.WriteAsync(job, events[^1], token => completions.SucceedAsync(Completion.Of(job.Lease, committed, events, result), token),
            AttemptOutcome.Succeeded);
        if (outcome == AttemptOutcome.Succeeded)
        {
            LogCompleted(committed.Key, committed.Size);
        }

        // CommitLost: the artifact is in place, whichever attempt runs next finds it and finishes as skipped.
        return outcome;
    }

    private static List<TimelineEntry> SuccessEvents(ArtifactRecord committed, int lastProgress, TimeSpan duration)
    {
        var events = new List<TimelineEntry>();
        if (lastProgress is > 0 and < 100)
        {
            // A job that showed progress ends its progress at 100; a quick one that showed none stays quiet.
            events.Add(TimelineEntries.Progress(100));
        }

        events.Add(TimelineEntries.Completed(committed, duration));
        return events;
    }

    private static async Task ValidateAsync(ActiveJob job, IStage stage, StageOutput output)
    {
        var info = new FileInfo(output.FilePath);
        if (!info.Exists || info.Length == 0)
        {
            throw new JobFailureException(ErrorCodes.ArtifactInvalid, "the stage produced an empty or missing output file");
        }

        if (!output.Validated)
        {
            await stage.ValidateAsync(output.FilePath, job.Stopping);
        }

        // A cancel (or a lost lease) that came while the stage was finishing keeps the artifact out.
        job.Stopping.ThrowIfCancellationRequested();
    }

    private static async Task<bool> IsValidAsync(IStage stage, string path, long size, CancellationToken cancellationToken)
    {
        if (size <= 0)
        {
            return false;
        }

        try
        {
            await stage.ValidateAsync(path, cancellationToken);
            return true;
        }
        catch (JobFailureException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not move staged file {Path} back to scratch ({Error}); the scratch janitor removes what is left")]
    private partial void LogUnstageFailed(string path, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Completed: artifact {ArtifactKey} ({Size} bytes)")]
    private partial void LogCompleted(string artifactKey, long size);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Existing artifact {ArtifactKey} failed validation; moved to {Aside} and running the job")]
    private partial void LogQuarantinedArtifact(string artifactKey, string aside);
}
