using System.Diagnostics;

namespace Consumers.Runtime.Telemetry;

/// <summary>The runtime's own spans: acquire, stage, commit, relay.</summary>
public static class ConsumersActivitySource
{
    public const string Name = "Consumers";

    public static ActivitySource Source { get; } = new(Name);
}
