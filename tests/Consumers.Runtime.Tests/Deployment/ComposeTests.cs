using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Consumers.Runtime.Tests.Deployment;

/// <summary>
/// compose/docker-compose.yml and what it mounts, checked for structure (Docker is not needed): pinned images, a
/// one-shot migrate the workers wait for, metrics reachable from Prometheus, volumes behind every folder the
/// worker writes, and Prometheus and Grafana provisioning that point at what exists.
/// </summary>
public sealed partial class ComposeTests
{
    private static readonly string ComposeFolder = RepositoryFiles.PathOf("compose");
    private static readonly YamlMappingNode Compose = Load("compose", "docker-compose.yml");
    private static readonly YamlMappingNode Services = Map(Compose, "services");

    [Fact]
    public void Every_image_is_pinned_to_a_version()
    {
        var expected = new Dictionary<string, Regex>
        {
            ["postgres"] = PinnedTo("postgres", @"15\.\d+"),
            ["rabbitmq"] = PinnedTo("rabbitmq", @"3\.10\.\d+-management"),
            ["prometheus"] = PinnedTo("prom/prometheus", @"v\d+\.\d+\.\d+"),
            ["grafana"] = PinnedTo("grafana/grafana", @"\d+\.\d+\.\d+"),
        };
        foreach (var (service, pattern) in expected)
        {
            Assert.Matches(pattern, Text(Map(Services, service), "image"));
        }

        // Our own image is built from this repository, never pulled.
        foreach (var service in new[] { "worker", "migrate" })
        {
            Assert.Equal("compose/worker.Dockerfile", Text(Map(Map(Services, service), "build"), "dockerfile"));
        }
    }

    [Fact]
    public void Workers_start_only_after_the_one_shot_migration_succeeded()
    {
        var migrate = Map(Services, "migrate");
        Assert.Contains("migrate", Sequence(migrate, "entrypoint").Select(Scalar));
        Assert.Equal("no", Text(migrate, "restart"));
        Assert.Equal("service_healthy", Text(Map(Map(migrate, "depends_on"), "postgres"), "condition"));
        Assert.Equal(Env("worker")["Consumers__Database__ConnectionString"], Env("migrate")["Consumers__Database__ConnectionString"]);

        var dependsOn = Map(Map(Services, "worker"), "depends_on");
        Assert.Equal("service_completed_successfully", Text(Map(dependsOn, "migrate"), "condition"));
        Assert.Equal("service_healthy", Text(Map(dependsOn, "postgres"), "condition"));
        Assert.Equal("service_healthy", Text(Map(dependsOn, "rabbitmq"), "condition"));
    }

    [Fact]
    public void Worker_metrics_listen_on_all_interfaces_on_the_port_prometheus_scrapes()
    {
        var env = Env("worker");
        Assert.Contains(env["Consumers__Telemetry__MetricsAddress"], new[] { "0.0.0.0", "*", "+" });
        var port = env["Consumers__Telemetry__MetricsPort"];
        Assert.Contains(port, Sequence(Map(Services, "worker"), "expose").Select(Scalar));

        var prometheus = Load("compose", "prometheus", "prometheus.yml");
        var job = Sequence(prometheus, "scrape_configs").Cast<YamlMappingNode>().Single(j => Text(j, "job_name") == "consumers-worker");
        var discovery = Sequence(job, "dns_sd_configs").Cast<YamlMappingNode>().Single();
        Assert.Equal(["worker"], Sequence(discovery, "names").Select(Scalar));
        Assert.Equal(port, Text(discovery, "port"));

        // Every other scrape target is a compose service (or Prometheus itself).
        foreach (var target in Sequence(prometheus, "scrape_configs").Cast<YamlMappingNode>()
                     .Where(j => j.Children.ContainsKey("static_configs"))
                     .SelectMany(j => Sequence(j, "static_configs").Cast<YamlMappingNode>().SelectMany(c => Sequence(c, "targets").Select(Scalar))))
        {
            var host = target.Split(':')[0];
            Assert.True(host == "localhost" || Services.Children.ContainsKey(host), $"scrape target {target} is not a compose service");
        }
    }

    [Fact]
    public void Every_folder_the_worker_uses_is_a_declared_volume()
    {
        var env = Env("worker");
        var mounts = Sequence(Map(Services, "worker"), "volumes").Select(Scalar).Select(v => v.Split(':')).ToDictionary(v => v[1], v => v);
        foreach (var setting in new[] { "Consumers__Artifacts__Root", "Consumers__Artifacts__MediaRoots__0", "Consumers__Scratch__Root" })
        {
            Assert.True(mounts.TryGetValue(env[setting], out var mount), $"{setting}={env[setting]} is not mounted");
            Assert.False(mount[0].StartsWith('.'), $"{env[setting]} should be a named volume, not a bind mount");
        }

        Assert.EndsWith("ro", mounts[env["Consumers__Artifacts__MediaRoots__0"]].Last(), StringComparison.Ordinal);
        Assert.DoesNotContain("ro", mounts[env["Consumers__Artifacts__Root"]].Skip(2));
        // The image creates those folders for its non-root user, so new volumes are writable.
        var dockerfile = RepositoryFiles.Read("compose", "worker.Dockerfile");
        Assert.All(new[] { "Consumers__Artifacts__Root", "Consumers__Scratch__Root" }, s => Assert.Contains(env[s], dockerfile, StringComparison.Ordinal));
    }

    [Fact]
    public void Named_volumes_are_declared_and_bind_mounted_files_exist()
    {
        var declared = Map(Compose, "volumes").Children.Keys.Select(Scalar).ToHashSet();
        foreach (var (name, service) in Services.Children.Select(c => (Scalar(c.Key), (YamlMappingNode)c.Value)))
        {
            if (!service.Children.ContainsKey("volumes"))
            {
                continue;
            }

            foreach (var source in Sequence(service, "volumes").Select(Scalar).Select(v => v.Split(':')[0]))
            {
                if (source.StartsWith('.'))
                {
                    Assert.True(File.Exists(Path.Combine(ComposeFolder, source)) || Directory.Exists(Path.Combine(ComposeFolder, source)),
                        $"{name} mounts {source}, which does not exist");
                }
                else
                {
                    Assert.True(declared.Contains(source), $"{name} uses volume {source}, which is not declared");
                }
            }
        }
    }

    [Fact]
    public void Prometheus_configuration_and_its_rules_pass_promtool()
    {
        var (exitCode, output) = RepositoryFiles.Run(RepositoryFiles.Promtool(), ComposeFolder, "check", "config", "prometheus/prometheus.yml");
        Assert.True(exitCode == 0, output);
        Assert.Contains("1 rule files found", output, StringComparison.Ordinal);

        // The rule file is mounted beside the configuration, where rule_files finds it.
        var prometheus = Map(Services, "prometheus");
        var mounts = Sequence(prometheus, "volumes").Select(Scalar).ToList();
        Assert.Contains("./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro", mounts);
        Assert.Contains("./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro", mounts);
    }

    [Fact]
    public void Grafana_provisioning_points_at_the_mounted_dashboards_and_the_prometheus_service()
    {
        var grafanaMounts = Sequence(Map(Services, "grafana"), "volumes").Select(Scalar).Select(v => v.Split(':')).ToDictionary(v => v[0], v => v[1]);
        var dashboardsFolder = grafanaMounts["./grafana/dashboards"];
        Assert.Equal("/etc/grafana/provisioning", grafanaMounts["./grafana/provisioning"]);

        var providers = Load("compose", "grafana", "provisioning", "dashboards", "dashboards.yml");
        var provider = Sequence(providers, "providers").Cast<YamlMappingNode>().Single();
        Assert.Equal("file", Text(provider, "type"));
        Assert.Equal(dashboardsFolder, Text(Map(provider, "options"), "path"));

        var datasources = Load("compose", "grafana", "provisioning", "datasources", "prometheus.yml");
        var datasource = Sequence(datasources, "datasources").Cast<YamlMappingNode>().Single();
        var url = new Uri(Text(datasource, "url"));
        Assert.True(Services.Children.ContainsKey(url.Host), $"the datasource points at {url.Host}, which is not a compose service");
        Assert.Equal(9090, url.Port);
        var uid = Text(datasource, "uid");

        var dashboard = JsonNode.Parse(RepositoryFiles.Read("compose", "grafana", "dashboards", "consumers-overview.json"))!;
        var panels = dashboard["panels"]!.AsArray().Select(p => p!).ToList();
        Assert.Equal(panels.Count, panels.Select(p => p["id"]!.GetValue<int>()).Distinct().Count());
        var variables = dashboard["templating"]!["list"]!.AsArray().Select(v => v!).ToList();
        foreach (var node in panels.Concat(variables).Concat(panels.SelectMany(p => p["targets"]!.AsArray().Select(t => t!))))
        {
            if (node["datasource"] is { } source)
            {
                Assert.Equal(uid, source["uid"]!.GetValue<string>());
            }
        }

        // Every variable a query uses is defined, and every defined one is used.
        var expressions = panels.SelectMany(p => p["targets"]!.AsArray()).Select(t => t!["expr"]!.GetValue<string>()).ToList();
        var defined = variables.Select(v => v["name"]!.GetValue<string>()).ToHashSet();
        var used = expressions.SelectMany(e => Variable().Matches(e).Select(m => m.Groups[1].Value)).ToHashSet();
        Assert.Equal(defined.Order(), used.Order());
        Assert.Contains("vhost", defined);
        Assert.Contains("instance", defined);
        Assert.All(expressions.Where(e => e.Contains("rabbitmq_", StringComparison.Ordinal)), e => Assert.Contains("$vhost", e, StringComparison.Ordinal));
    }

    private static Regex PinnedTo(string image, string tag) => new($"^{Regex.Escape(image)}:{tag}$");

    private static Dictionary<string, string> Env(string service) =>
        Map(Map(Services, service), "environment").Children.ToDictionary(c => Scalar(c.Key), c => Scalar(c.Value));

    private static YamlMappingNode Load(params string[] parts)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(RepositoryFiles.Read(parts));
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static YamlMappingNode Map(YamlMappingNode node, string key) => (YamlMappingNode)node.Children[new YamlScalarNode(key)];

    private static YamlSequenceNode Sequence(YamlMappingNode node, string key) => (YamlSequenceNode)node.Children[new YamlScalarNode(key)];

    private static string Text(YamlMappingNode node, string key) => Scalar(node.Children[new YamlScalarNode(key)]);

    private static string Scalar(YamlNode node) => ((YamlScalarNode)node).Value ?? "";

    [GeneratedRegex(@"\$(\w+)")]
    private static partial Regex Variable();
}
