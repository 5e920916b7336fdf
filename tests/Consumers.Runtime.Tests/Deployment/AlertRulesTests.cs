using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Consumers.Runtime.Tests.Deployment;

/// <summary>compose/prometheus/alerts.yml: valid for promtool, every alert unit-tested, every metric and runbook link real.</summary>
public sealed partial class AlertRulesTests
{
    private static readonly string Folder = RepositoryFiles.PathOf("compose", "prometheus");

    [Fact]
    public void The_rules_pass_promtool_check_and_their_unit_tests()
    {
        var check = RepositoryFiles.Run(RepositoryFiles.Promtool(), Folder, "check", "rules", "alerts.yml");
        Assert.True(check.ExitCode == 0, check.Output);

        var test = RepositoryFiles.Run(RepositoryFiles.Promtool(), Folder, "test", "rules", "alerts.test.yml");
        Assert.True(test.ExitCode == 0, test.Output);
        Assert.Contains("SUCCESS", test.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_alert_has_a_test_that_makes_it_fire()
    {
        var tests = Load("alerts.test.yml");
        var firing = ((YamlSequenceNode)tests.Children[new YamlScalarNode("tests")]).Cast<YamlMappingNode>()
            .SelectMany(t => ((YamlSequenceNode)t.Children[new YamlScalarNode("alert_rule_test")]).Cast<YamlMappingNode>())
            .Where(a => ((YamlSequenceNode)a.Children[new YamlScalarNode("exp_alerts")]).Children.Count > 0)
            .Select(a => ((YamlScalarNode)a.Children[new YamlScalarNode("alertname")]).Value)
            .ToHashSet();
        Assert.All(Rules(), rule => Assert.Contains(rule.Alert, firing));
        Assert.Contains("ConsumersJobsNotDraining", firing);
        Assert.Contains("ConsumersOutboxStalled", firing);
        Assert.Contains("ConsumersErrorQueueGrowing", firing);
        Assert.Contains("ConsumersHeartbeatsFailing", firing);
        Assert.Contains("ConsumersNoRecoverySweep", firing);
    }

    [Fact]
    public void Rules_use_documented_metrics_and_link_to_runbook_sections_that_exist()
    {
        var metricsDoc = RepositoryFiles.Read("docs", "metrics.md");
        var runbook = RepositoryFiles.Read("docs", "runbook.md");
        var anchors = Heading().Matches(runbook).Select(m => Anchor(m.Groups[1].Value)).ToHashSet();
        foreach (var rule in Rules())
        {
            foreach (var metric in MetricName().Matches(Quoted().Replace(rule.Expression, "")).Select(m => m.Value).Where(IsMetric))
            {
                var documented = metric.StartsWith("rabbitmq_", StringComparison.Ordinal) || metricsDoc.Contains($"`{Base(metric)}`", StringComparison.Ordinal);
                Assert.True(documented, $"{rule.Alert} uses {metric}, which docs/metrics.md does not list");
            }

            foreach (var link in RunbookLink().Matches(rule.Runbook).Select(m => m.Groups[1].Value))
            {
                Assert.True(anchors.Contains(link), $"{rule.Alert} links to runbook.md#{link}, which has no such section");
            }

            Assert.Contains($"`{rule.Alert}`", metricsDoc, StringComparison.Ordinal);
        }
    }

    private sealed record Rule(string Alert, string Expression, string Runbook);

    private static List<Rule> Rules() =>
        [.. ((YamlSequenceNode)Load("alerts.yml").Children[new YamlScalarNode("groups")]).Cast<YamlMappingNode>()
            .SelectMany(g => ((YamlSequenceNode)g.Children[new YamlScalarNode("rules")]).Cast<YamlMappingNode>())
            .Select(r => new Rule(
                Value(r, "alert"),
                Value(r, "expr"),
                Value((YamlMappingNode)r.Children[new YamlScalarNode("annotations")], "runbook")))];

    private static string Value(YamlMappingNode node, string key) => ((YamlScalarNode)node.Children[new YamlScalarNode(key)]).Value ?? "";

    private static YamlMappingNode Load(string file)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(File.ReadAllText(Path.Combine(Folder, file)));
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    // PromQL words that are not metric names.
    private static readonly HashSet<string> Words = ["sum", "by", "max", "min", "increase", "rate", "delta", "histogram_quantile", "unless", "on", "and", "or", "le",
        "vhost", "queue", "instance", "reason", "outcome", "type", "count", "absent"];

    private static bool IsMetric(string word) => !Words.Contains(word) && word.Contains('_', StringComparison.Ordinal);

    // Histogram series are documented under their base name.
    private static string Base(string metric) => metric.EndsWith("_bucket", StringComparison.Ordinal) ? metric[..^"_bucket".Length] : metric;

    // GitHub's anchors: lower case, punctuation dropped, spaces to dashes.
    private static string Anchor(string heading) =>
        new string([.. heading.ToLowerInvariant().Where(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_')]).Replace(' ', '-');

    [GeneratedRegex(@"\b[a-z][a-z0-9_]*\b")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"""[^""]*""")]
    private static partial Regex Quoted();

    [GeneratedRegex(@"^#+ (.+)$", RegexOptions.Multiline)]
    private static partial Regex Heading();

    [GeneratedRegex(@"runbook\.md#([a-z0-9_-]+)")]
    private static partial Regex RunbookLink();
}
