namespace Consumers.Runtime.Flow.Lanes;

/// <summary>
/// An async counting limiter whose capacity can change while it is in use (adaptive concurrency). Lowering the
/// capacity never interrupts holders: new entries wait until enough of them have left. Waiters are served in
/// arrival order.
/// </summary>
public sealed class SlotLimiter
{
    private readonly Lock gate = new();
    private readonly LinkedList<TaskCompletionSource> waiters = [];
    private int capacity;
    private int inUse;
    private int peak;

    public SlotLimiter(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        this.capacity = capacity;
    }

    public int Capacity
    {
        get
        {
            lock (gate)
            {
                return capacity;
            }
        }
    }

    public int InUse
    {
        get
        {
            lock (gate)
            {
                return inUse;
            }
        }
    }

    /// <summary>The most slots held at once since the previous call (at least those held now).</summary>
    public int TakePeak()
    {
        lock (gate)
        {
            var result = peak;
            peak = inUse;
            return result;
        }
    }

    /// <summary>Waits for a slot; false when <paramref name="cancellationToken"/> fires first (no slot is then held).</summary>
    public async Task<bool> EnterAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return false;
        }

        TaskCompletionSource waiter;
        LinkedListNode<TaskCompletionSource> node;
        lock (gate)
        {
            if (inUse < capacity && waiters.Count == 0)
            {
                Take();
                return true;
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            node = waiters.AddLast(waiter);
        }

        await using (cancellationToken.Register(() => waiter.TrySetCanceled()))
        {
            try
            {
                await waiter.Task.ConfigureAwait(false);
                return true;
            }
            catch (OperationCanceledException)
            {
                // The cancellation won over any hand-over (a handed-over waiter cannot be cancelled), so no slot is held.
                lock (gate)
                {
                    if (node.List is not null)
                    {
                        waiters.Remove(node);
                    }
                }

                return false;
            }
        }
    }

    public void Exit()
    {
        lock (gate)
        {
            inUse--;
            WakeWaiters();
        }
    }

    /// <summary>Changes the capacity; waiters get the new room at once, holders above a lowered capacity finish normally.</summary>
    public void SetCapacity(int value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
        lock (gate)
        {
            capacity = value;
            WakeWaiters();
        }
    }

    private void WakeWaiters()
    {
        while (inUse < capacity && waiters.First is { } first)
        {
            waiters.RemoveFirst();
            if (first.Value.TrySetResult())
            {
                Take();
            }
        }
    }

    private void Take()
    {
        inUse++;
        peak = Math.Max(peak, inUse);
    }
}
