using System.Collections.Concurrent;
using System.Diagnostics;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// Writes the successes of jobs that finish together in one statement, as River's completer does: a success waits
/// only for the write in flight, and every success that arrived meanwhile goes into the next statement (no timer,
/// no window: one job alone is written at once). Each row is still fenced by its own lease token, so a lost lease
/// fails only that job; each caller's task ends when its row's statement committed (or failed), so nothing is
/// acknowledged before its success is durable. Pipeline steps are written alone (their success advances the pipeline).
/// </summary>
public sealed class CompletionBatcher(JobStore store)
{
    /// <summary>At most this many successes in one statement.</summary>
    public const int MaxBatch = 64;

    private readonly ConcurrentQueue<Pending> queue = new();
    private int writing;

    /// <summary>True when <paramref name="completion"/> was written; false when its lease was gone (nothing written).</summary>
    public Task<bool> SucceedAsync(Completion completion, CancellationToken cancellationToken)
    {
        if (completion.Lease.PipelineId is not null || completion.Lease.ParentJobId is not null)
        {
            return store.SucceedAsync(completion.Lease, completion.Artifact, completion.Events, cancellationToken, completion.Result);
        }

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
            var written = await store.SucceedManyAsync(batch.Select(p => p.Completion).ToList(), CancellationToken.None);
            foreach (var pending in batch)
            {
                pending.Done.TrySetResult(written.Contains(pending.Completion.Lease.JobId));
            }
        }
        catch (Exception ex) when (batch.Count > 1 && !Persistence.DatabaseFailures.IsUnavailable(ex))
        {
            // One row the database refuses (bad data) must not fail the others: each is written alone then.
            foreach (var pending in batch)
            {
                await WriteAloneAsync(pending);
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

    private async Task WriteAloneAsync(Pending pending)
    {
        try
        {
            var written = await store.SucceedManyAsync([pending.Completion], CancellationToken.None);
            pending.Done.TrySetResult(written.Count == 1);
        }
        catch (Exception ex)
        {
            pending.Done.TrySetException(ex);
        }
    }

    private sealed record Pending(Completion Completion)
    {
        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
