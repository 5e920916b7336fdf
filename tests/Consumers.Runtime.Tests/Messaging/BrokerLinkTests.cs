using Consumers.Runtime.Messaging;
using MassTransit.Events;
using MassTransit.Transports;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Tests.Messaging;

/// <summary>The event sequences MassTransit 8.5.12 raises (seen on a real cluster): a lost connection is Completed without Stopping.</summary>
public sealed class BrokerLinkTests
{
    private static readonly Uri Jobs = new("rabbitmq://127.0.0.1:56741/consumers.jobs");
    private static readonly Uri Transcode = new("rabbitmq://127.0.0.1:56741/consumers.jobs.transcode");
    private readonly BrokerLink link = NewLink();

    [Fact]
    public void Not_ready_until_every_watched_endpoint_has_been_ready_once()
    {
        Assert.Contains("2 of 2 job endpoints not connected", link.Problem(), StringComparison.Ordinal);
        link.Ready(new ReceiveEndpointReadyEvent(Jobs, null!, true));
        Assert.Contains("1 of 2", link.Problem(), StringComparison.Ordinal);
        link.Ready(new ReceiveEndpointReadyEvent(Transcode, null!, true));
        Assert.Null(link.Problem());
    }

    [Fact]
    public void A_transport_that_ends_without_being_stopped_lost_its_connection_until_the_next_ready()
    {
        ReadyAll();

        link.Completed(Completed(Jobs));

        var problem = link.Problem();
        Assert.NotNull(problem);
        Assert.Contains("not consuming from RabbitMQ", problem, StringComparison.Ordinal);
        Assert.Contains("1 of 2 job endpoints lost their connection", problem, StringComparison.Ordinal);
        Assert.Contains("reconnecting to 10.0.0.1:5672, 10.0.0.2:5673", problem, StringComparison.Ordinal);
        link.Ready(new ReceiveEndpointReadyEvent(Jobs, null!, true));
        Assert.Null(link.Problem());
    }

    [Fact]
    public void A_deliberate_stop_is_not_a_loss_and_clears_an_earlier_one()
    {
        ReadyAll();
        link.Stopping(new ReceiveEndpointStoppingEvent(Jobs, null!, false));
        link.Completed(Completed(Jobs));
        Assert.Null(link.Problem());

        link.Completed(Completed(Transcode));
        Assert.NotNull(link.Problem());
        link.Stopping(new ReceiveEndpointStoppingEvent(Transcode, null!, false));
        Assert.Null(link.Problem());
    }

    [Fact]
    public void A_fault_is_a_loss_with_its_reason()
    {
        ReadyAll();

        link.Faulted(new ReceiveEndpointFaultedEvent(new ReceiveTransportFaultedEvent(Transcode, new InvalidOperationException("broker unreachable")), null!));

        Assert.Contains("consumers.jobs.transcode: broker unreachable", link.Problem(), StringComparison.Ordinal);
    }

    [Fact]
    public void Endpoints_of_other_queues_do_not_count()
    {
        ReadyAll();

        link.Completed(Completed(new Uri("rabbitmq://127.0.0.1:56741/vm_bus_abc?temporary=true")));

        Assert.Null(link.Problem());
    }

    private void ReadyAll()
    {
        link.Ready(new ReceiveEndpointReadyEvent(Jobs, null!, true));
        link.Ready(new ReceiveEndpointReadyEvent(Transcode, null!, true));
    }

    private static ReceiveEndpointCompletedEvent Completed(Uri address) =>
        new(new ReceiveTransportCompletedEvent(address, new NoDeliveries()), null!);

    private sealed class NoDeliveries : DeliveryMetrics
    {
        public long DeliveryCount => 0;

        public int ConcurrentDeliveryCount => 0;
    }

    private static BrokerLink NewLink()
    {
        var options = new RabbitMqOptions { Port = 5672, Nodes = ["10.0.0.1", "10.0.0.2:5673"] };
        var link = new BrokerLink(Options.Create(options), TimeProvider.System, NullLogger<BrokerLink>.Instance);
        link.Watch("consumers.jobs");
        link.Watch("consumers.jobs.transcode");
        return link;
    }
}
