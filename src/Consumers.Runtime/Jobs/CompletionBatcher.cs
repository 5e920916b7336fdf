using System.Collections.Concurrent;
using System.Diagnostics;
using Consumers.Runtime.Artifacts;

namespace Consumers.Runtime.Jobs;

/// <summary>How a batched success ended when it landed or was refused (a database failure is thrown instead).</summary>
public enum CompletionWrite
{
    Written,

    /// <summary>The attempt no longer held its lease: nothing was written or placed.</summary>
    LeaseLost,

    /// <summary>An artifact was already under the key (another attempt's, or this one's from a write that did not land): nothing was written.</summary>
    ArtifactExists,
}

/// <summary>
/// Writes the successes of jobs that finish together in one statement, as River's completer does: a success waits
/// only for the write in flight, and every success that arrived meanwhile goes into the next statement (no timer,
/// no window: one job alone is written at once). Each row is still fenced by its own lease token, so a lost lease
/// fails only that job; each caller's task ends when its row's statement committed (or failed), so nothing is
/// acknowledged before its success is durable. A success with a staged artifact is written first and its artifact
/// placed after, in the same transaction, while the fenced update holds the row: the lease check, the placement and the
/// success cost one transaction and one statement per batch instead of two transactions per job. A placement that
/// fails rolls the batch back (rare: another attempt's artifact under the key, or a file-system error).
/// Pipeline steps and segment jobs are written alone (their success advances the pipeline or the parent).
/// </summary>
public sealed class CompletionBatcher(JobStore store, IArtifactStore artifacts, IJobTransactions transactions)
{
    /// <summary>At most this many successes in one statement.</summary>
    public const int MaxBatch = 64;

    private readonly ConcurrentQueue<Pending> queue = new();
    private int writing;

    /// <summary>True when <paramref name="completion"/> (with no staged artifact) was written; false when its lease was gone.</summary>
    public async Task<bool> SucceedAsync(Completion completion, CancellationToken cancellationToken)
    {
        if (!IsBatched(completion.Lease))
        {
            return await store.SucceedAsync(completion.Lease, completion.Artifact, completion.Events, cancellationToken, completion.Result);
        }

        return await EnqueueAsync(completion) == CompletionWrite.Written;
    }

    /// <summary>
    /// Places <paramref name="completion"/>'s staged artifact under its locked, held lease and writes its success, with
    /// other jobs' in one transaction. Only for jobs written in batches (not pipeline steps or segment jobs).
    /// </summary>
    public Task<CompletionWrite> PlaceAndSucceedAsync(Completion completion)
    {
        if (completion.Staged is null || !IsBatched(completion.Lease))
        {
            throw new InvalidOperationException("only a batched success with a staged artifact is placed here");
        }

        return EnqueueAsync(completion);
    }

    /// <summary>Whether a success of <paramref name="lease"/> is written in a batch (see <see cref="PlaceAndSucceedAsync"/>).</summary>
    public static bool IsBatched(Leases.JobLease lease) => lease.PipelineId is null && lease.ParentJobId is null;

    private Task<CompletionWrite> EnqueueAsync(Completion completion)
    {
        var pending = new Pending(completion);
        queue.Enqueue(pending);
        if (Interlocked.CompareExchange(ref writing, 1, 0) == 0)
        {
            _ = DrainAsync();
        }

        return pending.Done.Task;
    }

    /// <summary>Writes batches until the queue is empty; only one drain runs at a time.</summary>
    private async Task DrainAsync()
    {
        // The drain writes for every waiting job, so its database spans must not join the first caller's trace (each
        // job's outbox rows carry their own trace parent). Inside an async method this does not reach the caller.
        Activity.Current = null;
        while (true)
        {
            var batch = Take();
            if (batch.Count > 0)
            {
                await WriteAsync(batch);
                continue;
            }

            Volatile.Write(ref writing, 0);
            // A success queued between the empty Take and the release would otherwise wait for the next caller.
            if (queue.IsEmpty || Interlocked.CompareExchange(ref writing, 1, 0) != 0)
            {
                return;
            }
        }
    }

    private List<Pending> Take()
    {
        var batch = new List<Pending>();
        var ids = new HashSet<Guid>();
        var later = new List<Pending>();
        while (batch.Count < MaxBatch && queue.TryDequeue(out var next))
        {
            // A job appears at most once per statement (its events' sequence numbers come from one row update).
            (ids.Add(next.Completion.Lease.JobId) ? batch : later).Add(next);
        }

        foreach (var pending in later)
        {
            queue.Enqueue(pending);
        }

        return batch;
    }

    private async Task WriteAsync(List<Pending> batch)
    {
        try
        {
            Settle(await WriteBatchAsync(batch));
        }
        catch (Exception ex) when (batch.Count > 1 && !Persistence.DatabaseFailures.IsUnavailable(ex))
        {
            // One row the database refuses (bad data) must not fail the others: each is written alone then.
            foreach (var pending in batch)
            {
                try
                {
                    Settle(await WriteBatchAsync([pending]));
                }
                catch (Exception alone)
                {
                    pending.Done.TrySetException(alone);
                }
            }
        }
        catch (Exception ex)
        {
            // PostgreSQL away: every caller sees it and retries on its own (OutcomeWriter), fenced as always.
            foreach (var pending in batch)
            {
                pending.Done.TrySetException(ex);
            }
        }
    }

    private static void Settle(Dictionary<Pending, object> results)
    {
        foreach (var (pending, result) in results)
        {
            _ = result is Exception ex ? pending.Done.TrySetException(ex) : pending.Done.TrySetResult((CompletionWrite)result);
        }
    }

    /// <summary>Each pending's <see cref="CompletionWrite"/>, or the exception its placement threw.</summary>
    private async Task<Dictionary<Pending, object>> WriteBatchAsync(List<Pending> batch)
    {
        if (batch.All(p => p.Completion.Staged is null))
        {
            // Nothing to place: one statement, no transaction of its own.
            return await SucceedAsync(store, batch, [], CancellationToken.None);
        }

        var placed = new List<Pending>();
        try
        {
            return await transactions.RunAsync(async (locked, token) =>
            {
                // The fenced update locks every row it writes: each artifact below is placed while its row is held with
                // the attempt's token on it, and a row whose lease is gone is neither written nor given its artifact.
                var results = await SucceedAsync(locked, batch, [], token);
                foreach (var pending in batch.Where(p => p.Completion.Staged is not null && results[p] is CompletionWrite.Written))
                {
                    var placement = Place(pending.Completion.Staged!);
                    if (placement is not CompletionWrite.Written)
                    {
                        throw new PlacementRefused(pending, placement);
                    }

                    placed.Add(pending);
                }

                return results;
            }, CancellationToken.None);
        }
        catch (PlacementRefused refused)
        {
            // The transaction rolled back: nothing of the batch was written. The refused one ends with its reason; the
            // rest are written again without it. The files placed before it stay where they are (a rename is not
            // rolled back): those successes are written again with their artifacts in place, still fenced.
            var results = new Dictionary<Pending, object> { [refused.Pending] = refused.Result };
            foreach (var pending in placed)
            {
                pending.MarkPlaced();
            }

            var rest = batch.Where(p => !results.ContainsKey(p)).ToList();
            foreach (var (pending, result) in rest.Count > 0 ? await WriteBatchAsync(rest) : [])
            {
                results[pending] = result;
            }

            return results;
        }
    }

    // Written here means placed.
    private object Place(StagedArtifact staged)
    {
        try
        {
            return artifacts.TryPlace(staged) ? CompletionWrite.Written : CompletionWrite.ArtifactExists;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ex;
        }
    }

    private sealed class PlacementRefused(Pending pending, object result) : Exception("an artifact of the batch could not be placed")
    {
        public Pending Pending { get; } = pending;

        public object Result { get; } = result;
    }

    private static async Task<Dictionary<Pending, object>> SucceedAsync(JobStore on, List<Pending> writes, Dictionary<Pending, object> results,
        CancellationToken cancellationToken)
    {
        var written = writes.Count > 0 ? await on.SucceedManyAsync([.. writes.Select(p => p.Completion)], cancellationToken) : new HashSet<Guid>();
        foreach (var pending in writes)
        {
            results[pending] = written.Contains(pending.Completion.Lease.JobId) ? CompletionWrite.Written : CompletionWrite.LeaseLost;
        }

        return results;
    }

    // Compared by reference: it keys the batch's results.
    private sealed class Pending(Completion completion)
    {
        public Completion Completion { get; private set; } = completion;

        /// <summary>Its artifact is in place: a success written again has nothing left to place.</summary>
        public void MarkPlaced() => Completion = Completion with { Staged = null };

        public TaskCompletionSource<CompletionWrite> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
