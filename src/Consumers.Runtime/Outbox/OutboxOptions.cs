namespace Consumers.Runtime.Outbox;

/// <summary>Settings under <c>Consumers:Outbox</c>.</summary>
public sealed class OutboxOptions
{
    public const string Section = "Consumers:Outbox";

    /// <summary>Run the relay in this process. At most one relay publishes at a time, whatever this says.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Rows read and published per round.</summary>
    public int BatchSize { get; set; } = 200;

    /// <summary>Publishes in flight at once (messages of one job are always published one after another).</summary>
    public int MaxParallelPublishes { get; set; } = 32;

    /// <summary>The relay wakes on NOTIFY; this is only the fallback poll for a notification it missed.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one publish may wait for the broker's confirm before it counts as failed.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First retry delay of a failed publish; doubles per failure up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a relay that is not the leader checks whether it can take over.</summary>
    public TimeSpan StandbyInterval { get; set; } = TimeSpan.FromSeconds(2);
}
