namespace Consumers.Runtime.Flow.Backpressure;

/// <summary>Settings under <c>Consumers:Flow:Backpressure</c>: when to stop taking work for a while.</summary>
public sealed class BackpressureOptions
{
    /// <summary>Off by default: the slots already bound the work; turn it on where the machine is shared or downstream queues can back up.</summary>
    public bool Enabled { get; set; }

    /// <summary>How often CPU and queue depths are sampled (off the scrape path).</summary>
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Pause when the machine's CPUs are busier than this fraction over a sample...</summary>
    public double CpuHighWatermark { get; set; } = 0.95;

    /// <summary>...and resume once they are below this one.</summary>
    public double CpuLowWatermark { get; set; } = 0.75;

    /// <summary>Queues (on the worker's virtual host) whose depth should hold back new work, for example a downstream stage's queue.</summary>
    public List<string> WatchQueues { get; set; } = [];

    /// <summary>Pause when any watched queue holds more messages than this...</summary>
    public long QueueHighWatermark { get; set; } = 10_000;

    /// <summary>...and resume once all are at or below this.</summary>
    public long QueueLowWatermark { get; set; } = 5_000;

    /// <summary>A pause lasts at least this long, so the worker does not flap.</summary>
    public TimeSpan MinPause { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>RabbitMQ management API used to read queue depths.</summary>
    public string ManagementUri { get; set; } = "http://127.0.0.1:15729";
}
