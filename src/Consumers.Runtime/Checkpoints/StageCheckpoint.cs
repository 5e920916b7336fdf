using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Leases;
using Microsoft.Extensions.Logging;

namespace Consumers.Runtime.Checkpoints;

/// <summary>
/// A stage's durable progress for one attempt. <see cref="LoadAsync"/> returns what an earlier attempt of the same
/// job recorded (parts checked); <see cref="KeepPartAsync"/> moves a finished part file into the job's work folder;
/// <see cref="SaveAsync{T}"/> records the state and the parts the next attempt will receive. Saves are fenced by the
/// lease token: an attempt that lost its lease records nothing, is stopped, and its save throws
/// <see cref="OperationCanceledException"/>. Everything is removed when the job finishes.
/// </summary>
public sealed partial class StageCheckpoint
{
    private readonly ActiveJob? job;
    private readonly CheckpointStore? store;
    private readonly WorkFolders? folders;
    private readonly ILogger? logger;
    private readonly Guid? parent;

    internal StageCheckpoint(ActiveJob job, CheckpointStore store, WorkFolders folders, ILogger logger, Guid? segmentOf = null)
    {
        this.job = job;
        this.store = store;
        this.folders = folders;
        this.logger = logger;
        parent = segmentOf;
    }

    private StageCheckpoint()
    {
    }

    /// <summary>Checkpoints that record nothing and load nothing (a stage run outside a worker, as in unit tests).</summary>
    public static StageCheckpoint None { get; } = new();

    /// <summary>False for <see cref="None"/>.</summary>
    public bool Enabled => store is not null;

    /// <summary>True once the stage used checkpoints in this attempt (the runtime then clears them when the job finishes).</summary>
    public bool Used { get; private set; }

    /// <summary>
    /// The fanned-out job this one is a segment job of, or null. A segment job's checkpoint is its parent's: it loads the
    /// parent's, keeps its parts in the parent's work folder and merges its saves into the parent's checkpoint.
    /// </summary>
    public Guid? SegmentOf => parent;

    /// <summary>The job whose checkpoint this is: the parent for a segment job, else the job itself.</summary>
    private Guid Owner => parent ?? job!.Lease.JobId;

    /// <summary>The full path of a part kept by this job.</summary>
    public string PathOf(CheckpointPart part) =>
        folders is null ? throw new InvalidOperationException("no checkpoints here") : Path.Combine(folders.PathOf(Owner), part.Name);

    /// <summary>How this job's segment jobs stand (null: it has none, or this runs outside a worker).</summary>
    public Task<SegmentJobsState?> SegmentJobsAsync(CancellationToken cancellationToken) =>
        store is null ? Task.FromResult<SegmentJobsState?>(null) : store.SegmentJobsAsync(job!.Lease.JobId, cancellationToken);

    /// <summary>
    /// The checkpoint an earlier attempt saved, or null. Parts missing or damaged (size or SHA-256) are left out; files
    /// in the work folder that the checkpoint does not name (a fenced attempt's late part) are deleted.
    /// </summary>
    public async Task<SavedCheckpoint?> LoadAsync(CancellationToken cancellationToken)
    {
        if (store is null)
        {
            return null;
        }

        Used = true;
        if (parent is { } claimed)
        {
            await CheckSegmentJobAsync(claimed, cancellationToken);
        }

        var jobId = Owner;
        var row = await store.LoadAsync(jobId, cancellationToken);
        // A segment job leaves the folder alone: it is its parent's, and other segment jobs are writing into it now.
        if (row is not { } saved)
        {
            if (parent is null)
            {
                folders!.RemoveAllBut(jobId, new HashSet<string>());
            }

            return null;
        }

        var whole = await folders!.VerifyAsync(jobId, saved.Parts, cancellationToken);
        if (parent is null)
        {
            folders.RemoveAllBut(jobId, whole.Keys.ToHashSet(StringComparer.Ordinal));
        }

        var dropped = saved.Parts.Count - whole.Count;
        LogLoaded(logger!, jobId, saved.Attempt, whole.Count, dropped);
        using var state = JsonDocument.Parse(saved.State);
        return new SavedCheckpoint(saved.Attempt, state.RootElement.Clone(), whole, dropped);
    }

    /// <summary>
    /// Moves <paramref name="file"/> (in the stage's scratch) into the job's work folder as part <paramref name="name"/>
    /// (letters, digits, <c>.-_</c>) and returns its record; it counts only once a <see cref="SaveAsync{T}"/> names it.
    /// </summary>
    public Task<CheckpointPart> KeepPartAsync(string file, string name, CancellationToken cancellationToken)
    {
        if (folders is null)
        {
            throw new InvalidOperationException("no checkpoints here: check Enabled first");
        }

        Used = true;
        return folders.KeepAsync(Owner, job!.Lease.Attempt, file, name, cancellationToken, parent is null ? 'a' : 's');
    }

    /// <summary>
    /// Records <paramref name="state"/> and <paramref name="parts"/> (the whole set; it replaces the last checkpoint; a
    /// segment job's is merged into its parent's instead, see <see cref="CheckpointStore.SaveToParentAsync"/>).
    /// Does nothing on <see cref="None"/>. Throws <see cref="OperationCanceledException"/> when the lease is lost.
    /// </summary>
    public async Task SaveAsync<T>(T state, IReadOnlyList<CheckpointPart> parts, CancellationToken cancellationToken)
    {
        if (store is null)
        {
            return;
        }

        Used = true;
        var json = JsonSerializer.Serialize(state, ContractJson.Options);
        var written = parent is { } into
            ? await store.SaveToParentAsync(job!.Lease, into, json, parts, cancellationToken)
            : await store.SaveAsync(job!.Lease, json, parts, cancellationToken);
        if (!written)
        {
            if (parent is not null && (await store.SegmentJobParentAsync(job.Lease.JobId, cancellationToken)).ParentStatus == JobStatuses.Cancelled)
            {
                StopAsCancelled();
            }

            // A stale or zombie attempt: nothing was written, and it must stop as if the heartbeat had found out.
            LogFenced(logger!, job.Lease.JobId, job.Lease.Attempt);
            job.Stop(StopReason.LeaseLost);
            throw new OperationCanceledException("the checkpoint was refused: this attempt no longer holds the job's lease", job.Stopping);
        }
    }

    /// <summary>
    /// A segment job runs only as its parent's: its row must name that parent (only the fan-out writes it, so a producer
    /// cannot aim a job at another job's checkpoint), and the parent must still wait for it (a segment job that an operator
    /// requeued after its parent moved on has nothing left to do). Both are fatal request problems, not retried.
    /// </summary>
    private async Task CheckSegmentJobAsync(Guid claimed, CancellationToken cancellationToken)
    {
        var (recorded, status) = await store!.SegmentJobParentAsync(job!.Lease.JobId, cancellationToken);
        const string field = "parameters." + SegmentJobParameters.Parent;
        if (recorded != claimed)
        {
            throw new JobFailureException(ErrorCodes.InvalidRequest, $"{field} names a job this one is not a segment job of; only the runtime creates segment jobs")
            {
                Field = field,
            };
        }

        if (status == JobStatuses.Cancelled)
        {
            StopAsCancelled();
        }

        if (status != JobStatuses.Waiting)
        {
            throw new JobFailureException(ErrorCodes.InvalidRequest, $"{field}: that job no longer waits for its segment jobs (it is {status})") { Field = field };
        }
    }

    // The parent's cancel marked this running segment job in the same transaction: it ends cancelled (where: running),
    // as it would have once its worker read the request, not failed for a parent that no longer waits.
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void StopAsCancelled()
    {
        job!.Stop(StopReason.Cancelled);
        throw new OperationCanceledException("the transcode this segment job belongs to was cancelled", job.Stopping);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: resuming from the checkpoint of attempt {Attempt} ({Parts} part(s) whole, {Dropped} dropped)")]
    private static partial void LogLoaded(ILogger logger, Guid jobId, int attempt, int parts, int dropped);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} attempt {Attempt}: checkpoint refused, the lease is no longer this attempt's")]
    private static partial void LogFenced(ILogger logger, Guid jobId, int attempt);
}
