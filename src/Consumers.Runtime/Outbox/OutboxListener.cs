using Npgsql;

namespace Consumers.Runtime.Outbox;

/// <summary>
/// The relay's LISTEN on <see cref="OutboxRelay.Channel"/>, on a session connection of its own. PostgreSQL runs a
/// transaction on a listening session for every notifying commit it delivers, so the relay listens only while it has
/// nothing to publish (<see cref="ListenAsync"/>) and stops (<see cref="StopIfNotifiedAsync"/>) while it drains a
/// backlog. The connection does nothing else: one wait for a notification stays outstanding on it across the relay's
/// rounds, because Npgsql ends a wait with a timeout by throwing (and catching) an exception inside it.
/// </summary>
internal sealed class OutboxListener(NpgsqlDataSource sessionDataSource, TimeSpan openTimeout) : IAsyncDisposable
{
    private readonly CancellationTokenSource closing = new();
    private NpgsqlConnection? connection;
    private Task? waiting;
    private int notified;

    /// <summary>True while the channel is LISTENed to: notifying commits then wake the relay (and cost a transaction here).</summary>
    public bool IsListening { get; private set; }

    /// <summary>The last thing that went wrong with the connection, for the relay's log (null after it was reported).</summary>
    public string? Failure { get; private set; }

    /// <summary>Opens the connection when needed and LISTENs. False when that failed (the relay polls meanwhile).</summary>
    public async Task<bool> ListenAsync(CancellationToken cancellationToken)
    {
        if (IsListening)
        {
            return true;
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(openTimeout);
            if (connection is null)
            {
                connection = await sessionDataSource.OpenConnectionAsync(timeout.Token);
                connection.Notification += (_, _) => Interlocked.Exchange(ref notified, 1);
            }

            await using var listen = new NpgsqlCommand("LISTEN " + OutboxRelay.Channel, connection);
            await listen.ExecuteNonQueryAsync(timeout.Token);
            IsListening = true;
            return true;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            await BreakAsync(ex.Message);
            return false;
        }
    }

    /// <summary>
    /// Called while draining a backlog: once a notification has arrived (the first notifying commit since the relay
    /// started draining), UNLISTEN, so that later commits cost the database nothing here. Until then a wait stays
    /// outstanding to notice it; an idle stretch without commits costs nothing either way.
    /// </summary>
    public async Task StopIfNotifiedAsync(CancellationToken cancellationToken)
    {
        if (!IsListening || connection is null)
        {
            return;
        }

        if (waiting is { IsCompleted: false })
        {
            return;
        }

        if (waiting is null)
        {
            waiting = connection.WaitAsync(closing.Token);
            return;
        }

        // A wait without a timeout ends only with a notification (or a broken connection): a commit came.
        if (!await EndWaitAsync())
        {
            return;
        }

        try
        {
            await using var unlisten = new NpgsqlCommand("UNLISTEN " + OutboxRelay.Channel, connection);
            await unlisten.ExecuteNonQueryAsync(cancellationToken);
            IsListening = false;

            // The rounds of the drain read whatever that notification announced.
            Interlocked.Exchange(ref notified, 0);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            await BreakAsync(ex.Message);
        }
    }

    /// <summary>
    /// Waits for a notification or <paramref name="timeout"/>, whichever comes first; true when one arrived (also one
    /// that arrived since the last call). Without a LISTEN it simply waits out the timeout.
    /// </summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (TakeNotified())
        {
            return true;
        }

        if (!IsListening || connection is null)
        {
            await Task.Delay(timeout, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return false;
        }

        waiting ??= connection.WaitAsync(closing.Token);
        using var delay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await Task.WhenAny(waiting, Task.Delay(timeout, delay.Token));
        await delay.CancelAsync();
        if (waiting.IsCompleted)
        {
            await EndWaitAsync();
        }

        return TakeNotified();
    }

    /// <summary>Forgets a notification that the round about to start makes moot.</summary>
    public bool TakeNotified() => Interlocked.Exchange(ref notified, 0) == 1;

    public async ValueTask DisposeAsync()
    {
        await closing.CancelAsync();
        if (waiting is not null)
        {
            await waiting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            waiting = null;
        }

        if (connection is not null)
        {
            await connection.DisposeAsync();
            connection = null;
        }

        IsListening = false;
        closing.Dispose();
    }

    /// <summary>Returns the failure that was noted and forgets it.</summary>
    public string? TakeFailure()
    {
        var failure = Failure;
        Failure = null;
        return failure;
    }

    /// <summary>Collects a finished wait; false when it failed (the connection is then closed and will be opened again).</summary>
    private async Task<bool> EndWaitAsync()
    {
        if (waiting is null)
        {
            return true;
        }

        var finished = waiting;
        waiting = null;
        try
        {
            await finished;
            return true;
        }
        catch (Exception ex) when (!closing.IsCancellationRequested)
        {
            await BreakAsync(ex.Message);
            return false;
        }
    }

    private async Task BreakAsync(string error)
    {
        Failure = error;
        IsListening = false;
        waiting = null;
        if (connection is not null)
        {
            await connection.DisposeAsync();
            connection = null;
        }

        // What the broken connection may have missed is read by the round that follows.
        Interlocked.Exchange(ref notified, 1);
    }
}
