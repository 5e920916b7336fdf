namespace Consumers.Runtime.Flow.Lanes;

/// <summary>
/// Lets a suspect job (one whose earlier attempt died with its worker) run alone on this worker, so that if it
/// kills the process again it takes no other job with it and the crash is its own. Every delivery passes the gate
/// on its way in (<see cref="JobLanes.EnterAsync"/>) and counts as running until its slot is given back. A suspect
/// reserves the gate, which stops new deliveries at the door, and waits for the running ones to finish; only one
/// suspect at a time may hold the reservation.
/// </summary>
public sealed class SoloGate
{
    private readonly Lock gate = new();
    private int running;
    private bool reserved;
    private TaskCompletionSource opened = Completed();
    private TaskCompletionSource? alone;

    /// <summary>Deliveries past the gate and not yet finished.</summary>
    public int Running
    {
        get
        {
            lock (gate)
            {
                return running;
            }
        }
    }

    /// <summary>True while a suspect holds the reservation.</summary>
    public bool Reserved
    {
        get
        {
            lock (gate)
            {
                return reserved;
            }
        }
    }

    /// <summary>Waits while a suspect holds the gate, then counts the delivery as running; false when cancelled first.</summary>
    public async Task<bool> EnterAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (gate)
            {
                if (!reserved)
                {
                    running++;
                    return true;
                }

                wait = opened.Task;
            }

            try
            {
                await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
    }

    /// <summary>A delivery that entered is done.</summary>
    public void Exit()
    {
        lock (gate)
        {
            running--;
            if (alone is not null && running <= 1)
            {
                alone.TrySetResult();
            }
        }
    }

    /// <summary>
    /// Takes the reservation for the suspect whose delivery is one of the running ones, and waits until it is the
    /// only one. False (and no reservation held) when another suspect holds it, or when cancelled first.
    /// </summary>
    public async Task<bool> TryRunAloneAsync(CancellationToken cancellationToken)
    {
        Task wait;
        lock (gate)
        {
            if (reserved)
            {
                return false;
            }

            reserved = true;
            opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            alone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (running <= 1)
            {
                alone.TrySetResult();
            }

            wait = alone.Task;
        }

        try
        {
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            Release();
            return false;
        }
    }

    /// <summary>The suspect is done: deliveries waiting at the gate go in.</summary>
    public void Release()
    {
        TaskCompletionSource toOpen;
        lock (gate)
        {
            if (!reserved)
            {
                return;
            }

            reserved = false;
            alone = null;
            toOpen = opened;
        }

        toOpen.TrySetResult();
    }

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource();
        done.SetResult();
        return done;
    }
}
