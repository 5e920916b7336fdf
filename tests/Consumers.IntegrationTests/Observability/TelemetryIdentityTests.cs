using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Telemetry;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Consumers.IntegrationTests.Observability;

/// <summary>
/// What a fresh worker exports before its first job: who it is (service name, instance, version) on its metrics and
/// traces, and a zero for every counter series the dashboard reads, so no panel starts with "No data" and no
/// alert's <c>increase()</c> misses a first event.
/// </summary>
public sealed partial class TelemetryIdentityTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_fresh_worker_names_itself_and_exports_every_dashboard_counter_at_zero()
    {
        await using var worker = await env.StartWorkerProcessAsync("identity-7");
        var scrape = await worker.ScrapeAsync();

        var targetInfo = Assert.Single(scrape.Split('\n'), line => line.StartsWith("target_info{", StringComparison.Ordinal));
        Assert.Contains("service_name=\"consumers\"", targetInfo, StringComparison.Ordinal);
        Assert.Contains("service_instance_id=\"identity-7\"", targetInfo, StringComparison.Ordinal);
        Assert.Matches("service_version=\"[0-9]+\\.[0-9]+", targetInfo);

        var dashboard = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(StackSettings.RepositoryRoot, "compose", "grafana", "dashboards", "consumers-overview.json")))!;
        var counters = dashboard["panels"]!.AsArray().SelectMany(p => p!["targets"]!.AsArray())
            .SelectMany(t => CounterName().Matches(t!["expr"]!.GetValue<string>()).Select(m => m.Value)).Distinct().ToList();
        Assert.True(counters.Count >= 10, $"the dashboard reads only {counters.Count} counters: {string.Join(", ", counters)}");
        var series = Parse(scrape);
        foreach (var counter in counters)
        {
            Assert.True(series.Any(x => x.Name == counter), $"{counter} is not exported before its first event");
        }

        // Per stage, from the start: every registered stage has its outcome, failure, duplicate and conflict series.
        foreach (var stage in new[] { "manifest", "synthetic" })
        {
            foreach (var name in new[] { "jobs_finished_total", "job_failures_total", "duplicate_skips_total", "acquire_conflicts_total" })
            {
                Assert.Contains(series, x => x.Name == name && x.Labels.GetValueOrDefault("stage") == stage);
            }

            Assert.Contains(series, x => x.Name == "jobs_finished_total" && x.Labels.GetValueOrDefault("stage") == stage
                                         && x.Labels["outcome"] == "failed" && x.Value == 0);
            Assert.Contains(series, x => x.Name == "job_failures_total" && x.Labels.GetValueOrDefault("stage") == stage
                                         && x.Labels["code"] == "CORRUPT_MEDIA" && x.Labels["class"] == "fatal");
        }
    }

    [Fact]
    public async Task The_tracer_and_the_meter_carry_the_service_and_the_worker_id()
    {
        // Traces are built only with somewhere to send them; nothing listens there, exports just fail quietly.
        await using var worker = await env.StartWorkerAsync("traced-9", new Dictionary<string, string?> { ["Consumers:Telemetry:OtlpEndpoint"] = "http://127.0.0.1:9" });

        foreach (var resource in new[] { worker.Get<TracerProvider>().GetResource(), worker.Get<MeterProvider>().GetResource() })
        {
            var attributes = resource.Attributes.ToDictionary(a => a.Key, a => a.Value?.ToString());
            Assert.Equal(ConsumersResource.ServiceName, attributes["service.name"]);
            Assert.Equal("traced-9", attributes["service.instance.id"]);
            Assert.Equal(ConsumersResource.ServiceVersion, attributes["service.version"]);
        }
    }

    private sealed record Series(string Name, Dictionary<string, string> Labels, double Value);

    // Prometheus text format: name{label="value",...} value [timestamp]
    private static List<Series> Parse(string scrape) =>
        [.. SeriesLine().Matches(scrape).Select(m => new Series(
            m.Groups["name"].Value,
            LabelPair().Matches(m.Groups["labels"].Value).ToDictionary(l => l.Groups[1].Value, l => l.Groups[2].Value),
            double.TryParse(m.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : double.NaN))];

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>[^ \n]+)", RegexOptions.Multiline)]
    private static partial Regex SeriesLine();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();

    [GeneratedRegex(@"\b[a-z_]+_total\b")]
    private static partial Regex CounterName();
}
