using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Jobs;

namespace Consumers.IntegrationTests.Observability;

/// <summary>
/// A real Prometheus scrapes a real worker (and RabbitMQ) while it runs successes, a retry, a failure, a
/// duplicate and a recovery; then every query of the Grafana dashboard must return data, and every metric the
/// docs name must exist.
/// </summary>
public sealed partial class PrometheusTests : IAsyncLifetime
{
    private TestEnvironment env = null!;
    private Process? prometheus;
    private string storage = "";

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync()
    {
        if (prometheus is { HasExited: false })
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
        }

        prometheus?.Dispose();
        if (storage.Length > 0)
        {
            Directory.Delete(storage, recursive: true);
        }

        await env.DisposeAsync();
    }

    [Fact]
    public async Task Every_dashboard_query_and_every_documented_metric_has_data_from_a_real_worker()
    {
        await using var worker = await env.StartWorkerProcessAsync("observed");
        var prometheusUri = StartPrometheus(worker.MetricsPort);

        env.CreateMediaFile("ok.bin", 2000);
        var good = TestEnvironment.ManifestJob("ok.bin", "ok.json");
        var flaky = TestEnvironment.SyntheticJob("flaky.json", ("failCode", ErrorCodes.DependencyUnavailable), ("failAttempts", "1"));
        var broken = TestEnvironment.SyntheticJob("broken.json", ("failCode", ErrorCodes.CorruptMedia));
        foreach (var job in new[] { good, flaky, broken })
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        var duplicate = JsonSerializer.Serialize(TestEnvironment.ManifestJob("ok.bin", "dup.json"), Runtime.ContractJson.Options);
        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", duplicate);
        var abandoned = new JobRequested { JobId = Guid.NewGuid(), Stage = "synthetic", OutputKey = "abandoned.json" };
        await env.Store.AcquireAsync(abandoned, new AcquireSettings("vanished", 10, 3600, 3), CancellationToken.None);
        await using (var age = env.DataSource.CreateCommand($"UPDATE jobs SET last_heartbeat_at = now() - interval '1 minute' WHERE id = '{abandoned.JobId}'"))
        {
            await age.ExecuteNonQueryAsync();
        }

        foreach (var id in new[] { good.JobId, flaky.JobId, broken.JobId, abandoned.JobId })
        {
            await env.WaitForTerminalAsync(id);
        }

        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", duplicate);
        var running = TestEnvironment.SyntheticJob("running.json", ("durationMs", "20000"));
        await env.Store.SubmitAsync(running, 3, CancellationToken.None);
        await Eventually.WaitAsync(async () => (await env.JobAsync(running.JobId))?.Status == JobStatuses.Processing,
            TimeSpan.FromSeconds(60), () => "the long job never started");
        // The same request again while it runs: an acquire conflict.
        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", JsonSerializer.Serialize(running, Runtime.ContractJson.Options));

        using var http = new HttpClient { BaseAddress = prometheusUri, Timeout = TimeSpan.FromSeconds(10) };
        var dashboard = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(StackSettings.RepositoryRoot, "compose", "grafana", "dashboards", "consumers-overview.json")))!;
        var expressions = dashboard["panels"]!.AsArray().SelectMany(p => p!["targets"]!.AsArray()).Select(t => t!["expr"]!.GetValue<string>()).ToList();
        Assert.NotEmpty(expressions);
        // The dashboard's variables, set as a person would pick them: this worker, this test's virtual host.
        var variables = new Dictionary<string, string>
        {
            ["$instance"] = $"127.0.0.1:{worker.MetricsPort}",
            ["$vhost"] = env.VirtualHost,
        };
        var defined = dashboard["templating"]!["list"]!.AsArray().Select(v => "$" + v!["name"]!.GetValue<string>()).ToHashSet();
        Assert.Equal(variables.Keys.ToHashSet(), defined);
        foreach (var variable in defined)
        {
            Assert.Contains(expressions, e => e.Contains(variable, StringComparison.Ordinal));
        }

        foreach (var expression in expressions)
        {
            var query = variables.Aggregate(expression, (e, v) => e.Replace(v.Key, v.Value, StringComparison.Ordinal));
            await Eventually.WaitAsync(async () => await SeriesAsync(http, query) > 0, TimeSpan.FromSeconds(60),
                () => $"the dashboard query returned no series: {query}");
        }

        // Each variable's own query lists the value picked above.
        foreach (var variable in dashboard["templating"]!["list"]!.AsArray())
        {
            var definition = LabelValues().Match(variable!["definition"]!.GetValue<string>());
            Assert.True(definition.Success, $"variable {variable["name"]} is not a label_values(metric, label) query");
            var (metric, label) = (definition.Groups[1].Value, definition.Groups[2].Value);
            var wanted = variables["$" + variable["name"]!.GetValue<string>()];
            await Eventually.WaitAsync(async () => await SeriesAsync(http, $"count by ({label}) ({metric}{{{label}=\"{wanted}\"}})") > 0,
                TimeSpan.FromSeconds(60), () => $"variable {variable["name"]} does not offer {wanted}");
        }

        var scraped = await worker.ScrapeAsync();
        var documented = MetricName().Matches(await File.ReadAllTextAsync(Path.Combine(StackSettings.RepositoryRoot, "docs", "metrics.md")))
            .Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.True(documented.Count >= 15, $"docs/metrics.md names only {documented.Count} metrics");
        Assert.All(documented, name => Assert.Matches($"(?m)^{Regex.Escape(name)}(_bucket)?[{{ ]", scraped));
    }

    private Uri StartPrometheus(int workerPort)
    {
        storage = Directory.CreateTempSubdirectory("prometheus-").FullName;
        var rabbitMetrics = new Uri(Environment.GetEnvironmentVariable("CONSUMERS_RABBIT_METRICS") is { Length: > 0 } value ? value : "http://127.0.0.1:15792/metrics");
        var config = Path.Combine(storage, "prometheus.yml");
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: consumers-worker
                static_configs:
                  - targets: ["127.0.0.1:{workerPort}"]
              - job_name: rabbitmq
                metrics_path: {rabbitMetrics.AbsolutePath}
                static_configs:
                  - targets: ["{rabbitMetrics.Authority}"]
            """);
        var port = FreePort();
        var start = new ProcessStartInfo("prometheus")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(storage, "data")}", $"--web.listen-address=127.0.0.1:{port}" })
        {
            start.ArgumentList.Add(argument);
        }

        prometheus = Process.Start(start)!;
        prometheus.OutputDataReceived += (_, _) => { };
        prometheus.ErrorDataReceived += (_, _) => { };
        prometheus.BeginOutputReadLine();
        prometheus.BeginErrorReadLine();
        return new Uri($"http://127.0.0.1:{port}/");
    }

    private static async Task<int> SeriesAsync(HttpClient http, string expression)
    {
        try
        {
            var answer = await http.GetFromJsonAsync<JsonNode>("api/v1/query?query=" + Uri.EscapeDataString(expression));
            return answer?["data"]?["result"]?.AsArray().Count ?? 0;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"^label_values\((\w+),\s*(\w+)\)$")]
    private static partial Regex LabelValues();

    // First column of the tables in docs/metrics.md: `name` followed by " | ".
    [GeneratedRegex(@"^\| `([a-z_]+)` \|", RegexOptions.Multiline)]
    private static partial Regex MetricName();
}
