namespace Consumers.Worker.Hosting;

/// <summary>
/// Tells when the worker has been without work for long enough: no job running and none started since the
/// last look, for <c>idleAfter</c>. Says so once per idle period; any job starts a new one.
/// </summary>
public sealed class IdlePeriod(TimeSpan idleAfter, TimeProvider time)
{
    private long seen = -1;
    private long idleSince = time.GetTimestamp();
    private bool reported;

    /// <param name="registered">Attempts started since the process began.</param>
    /// <param name="running">Attempts running now.</param>
    /// <returns>True the first time the current idle period reaches <c>idleAfter</c>.</returns>
    public bool Observe(long registered, int running)
    {
        if (registered != seen || running > 0)
        {
            seen = registered;
            idleSince = time.GetTimestamp();
            reported = false;
            return false;
        }

        if (reported || time.GetElapsedTime(idleSince) < idleAfter)
        {
            return false;
        }

        reported = true;
        return true;
    }
}
