using Consumers.Runtime.Messaging;
using Microsoft.Extensions.Configuration;

namespace Consumers.Runtime.Tests.Messaging;

public sealed class RabbitMqOptionsTests
{
    [Fact]
    public void Without_nodes_the_worker_connects_to_host_and_port()
    {
        var options = Bind(new() { ["Consumers:RabbitMq:Host"] = "rabbit.example", ["Consumers:RabbitMq:Port"] = "5672" });

        Assert.Equal([new BrokerNode("rabbit.example", 5672)], options.Endpoints());
        Assert.Empty(options.Problems());
    }

    [Fact]
    public void Nodes_from_configuration_are_tried_in_order_and_a_node_without_a_port_gets_the_port_setting()
    {
        var options = Bind(new()
        {
            ["Consumers:RabbitMq:Host"] = "ignored",
            ["Consumers:RabbitMq:Port"] = "5672",
            ["Consumers:RabbitMq:Nodes:0"] = "10.0.0.1:56741",
            ["Consumers:RabbitMq:Nodes:1"] = " rabbit-2 ",
            ["Consumers:RabbitMq:Nodes:2"] = "rabbit-3:5673",
        });

        Assert.Equal([new BrokerNode("10.0.0.1", 56741), new BrokerNode("rabbit-2", 5672), new BrokerNode("rabbit-3", 5673)], options.Endpoints());
        Assert.Equal("rabbit-3:5673", options.Endpoints()[2].ToString());
        Assert.Empty(options.Problems());
    }

    [Theory]
    [InlineData("host:port", "Nodes:0 'host:port': the port must be a number 1-65535")]
    [InlineData("host:0", "the port must be a number 1-65535")]
    [InlineData("host:70000", "the port must be a number 1-65535")]
    [InlineData(":5672", "the host is missing")]
    [InlineData("  ", "empty")]
    [InlineData("::1", "IPv6")]
    [InlineData("amqp://host:5672", "write host or host:port")]
    public void A_node_that_is_not_host_and_port_is_named_with_its_problem(string node, string expected)
    {
        var options = new RabbitMqOptions { Nodes = [node] };

        Assert.Contains(expected, Assert.Single(options.Problems()), StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_node_twice_is_a_problem_even_when_one_takes_the_default_port()
    {
        var options = new RabbitMqOptions { Port = 5672, Nodes = ["a:5672", "b", "a"] };

        Assert.Equal("Consumers:RabbitMq:Nodes:2 'a' names a:5672 a second time", Assert.Single(options.Problems()));
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var options = new RabbitMqOptions { Host = "", QueueType = "mirrored", ConnectTimeout = TimeSpan.Zero };

        var problems = options.Problems();

        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.Contains("Host is empty", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("QueueType 'mirrored'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("ConnectTimeout", StringComparison.Ordinal));
    }

    private static RabbitMqOptions Bind(Dictionary<string, string?> settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build().GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>()!;

    [Theory]
    [InlineData("auto", "classic", null)]
    [InlineData("ON", "classic", null)]
    [InlineData("off", "quorum", null)]
    [InlineData("auto", "quorum", null)]
    [InlineData("on", "quorum", "Consumers:RabbitMq:Priority 'on' needs classic queues")]
    [InlineData("sometimes", "classic", "Consumers:RabbitMq:Priority 'sometimes' is none of auto, on, off")]
    public void Priority_takes_auto_on_or_off_and_on_needs_classic_queues(string priority, string queueType, string? expected)
    {
        var problems = new RabbitMqOptions { Priority = priority, QueueType = queueType }.Problems();

        if (expected is null)
        {
            Assert.Empty(problems);
        }
        else
        {
            Assert.Contains(problems, p => p.StartsWith(expected, StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("auto", "classic", "exchange:consumers.jobs")]
    [InlineData("on", "classic", "exchange:consumers.jobs")]
    [InlineData("off", "classic", "queue:consumers.jobs")]
    [InlineData("off", "quorum", "exchange:consumers.jobs")]
    public void Sends_declare_the_queue_only_when_it_is_a_plain_classic_one(string priority, string queueType, string expected)
    {
        // A queue: send declares a plain queue, which RabbitMQ refuses for a priority or quorum queue.
        Assert.Equal(expected, new RabbitMqOptions { Priority = priority, QueueType = queueType }.SendAddress("consumers.jobs").ToString());
    }
}
