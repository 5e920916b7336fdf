using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Consumers.Runtime.Telemetry;

namespace Consumers.IntegrationTests.Infrastructure;

/// <summary>Listens to the runtime's own meter in this process and totals its counters by instrument name.</summary>
public sealed class MetricProbe : IDisposable
{
    private readonly MeterListener listener = new();
    private readonly ConcurrentDictionary<string, long> totals = new();

    public MetricProbe()
    {
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ConsumersMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => totals.AddOrUpdate(instrument.Name, value, (_, old) => old + value));
        listener.Start();
    }

    public long Total(string instrument) => totals.GetValueOrDefault(instrument);

    public Task WaitForAsync(string instrument, long atLeast, TimeSpan? timeout = null) =>
        Eventually.WaitAsync(() => Task.FromResult(Total(instrument) >= atLeast), timeout ?? TimeSpan.FromSeconds(60),
            () => $"{instrument} reached {Total(instrument)}, expected at least {atLeast}");

    public void Dispose() => listener.Dispose();
}
