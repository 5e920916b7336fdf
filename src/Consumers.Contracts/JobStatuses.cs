namespace Consumers.Contracts;

/// <summary>Values of a job's <c>status</c> column.</summary>
public static class JobStatuses
{
    public const string Queued = "queued";
    public const string Processing = "processing";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";

    /// <summary>
    /// A transcode that fanned out (<c>parallel</c>) gave its lease back and waits for its segment jobs; it is dispatched
    /// again when the last of them has finished, then joins and commits. Not terminal.
    /// </summary>
    public const string Waiting = "waiting";

    /// <summary>An operator or producer cancelled the job; it never runs again.</summary>
    public const string Cancelled = "cancelled";

    public static IReadOnlyList<string> All { get; } = [Queued, Processing, Waiting, Succeeded, Failed, Cancelled];

    public static bool IsTerminal(string status) => status is Succeeded or Failed or Cancelled;
}
