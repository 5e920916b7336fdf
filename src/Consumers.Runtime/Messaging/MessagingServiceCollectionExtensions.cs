using System.Net.Sockets;
using Consumers.Contracts;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Consumers.Runtime.Messaging;

public static class MessagingServiceCollectionExtensions
{
    /// <summary>
    /// MassTransit on RabbitMQ. With <paramref name="consumeJobs"/> the job queue is consumed: plain JSON and
    /// MassTransit envelopes are both accepted; each lane (see Flow.Lanes.JobLanes) has its own endpoint, whose
    /// ConcurrentMessageLimit is the lane's slot count and whose prefetch only a small buffer above it. Short
    /// infrastructure blips (database or socket errors) are retried in-process; everything else about a job's
    /// failure is the job runner's business, not the broker's.
    /// </summary>
    public static IServiceCollection AddConsumersMessaging(this IServiceCollection services, bool consumeJobs)
    {
        services.AddSingleton<QueuePriorities>();
        services.AddMassTransit(x =>
        {
            x.DisableUsageTelemetry();
            if (consumeJobs)
            {
                x.AddConsumer<JobRequestedConsumer>();
                x.AddConsumer<Control.CancelJobConsumer>();
                x.AddConsumer<Control.ParkedJobConsumer>();
                x.AddConsumer<Pipelines.PipelineRequestedConsumer>();
            }

            x.UsingRabbitMq((context, cfg) =>
            {
                // Bound and checked once (AddValidatedSettings): wrong broker settings stop the process here, every
                // problem named, not later as a connection that never comes.
                var rabbit = context.GetRequiredService<IOptions<RabbitMqOptions>>().Value;
                var nodes = rabbit.Endpoints();
                var connectionName = context.GetRequiredService<IOptions<Jobs.WorkerOptions>>().Value.WorkerId;
                cfg.Host(nodes[0].Host, nodes[0].Port, rabbit.VirtualHost, h =>
                {
                    h.Username(rabbit.Username);
                    h.Password(rabbit.Password);
                    h.PublisherConfirmation = true;
                    h.Heartbeat(rabbit.Heartbeat);
                    h.RequestedConnectionTimeout(rabbit.ConnectTimeout);
                    // The management UI lists connections by this name: which worker sits on which node.
                    h.ConnectionName(connectionName);
                    if (rabbit.Nodes.Count > 0)
                    {
                        // Each connection attempt takes the next node in turn, so a lost node is left for a live one.
                        h.UseCluster(c =>
                        {
                            foreach (var node in nodes)
                            {
                                c.Node(node.ToString());
                            }
                        });
                    }
                });
                // A request with a usable job id but a field of the wrong type becomes a failed job naming the field.
                cfg.ConfigureJsonSerializerOptions(options =>
                {
                    if (!options.Converters.Any(c => c is JobRequestedJsonConverter))
                    {
                        options.Converters.Add(new JobRequestedJsonConverter());
                    }

                    // The same for a pipeline: a usable pipelineId with a mistyped field fails the pipeline naming it.
                    if (!options.Converters.Any(c => c is Pipelines.PipelineRequestedJsonConverter))
                    {
                        options.Converters.Add(new Pipelines.PipelineRequestedJsonConverter());
                    }

                    return options;
                });
                if (!consumeJobs)
                {
                    return;
                }

                Control.ControlServiceCollectionExtensions.ConfigureControlEndpoints(cfg, context, rabbit);
                cfg.ReceiveEndpoint(ContractNames.PipelineQueue, e =>
                {
                    // Registering a pipeline is one short transaction: a few at a time keep it off the jobs' slots.
                    e.PrefetchCount = 8;
                    e.ConcurrentMessageLimit = 4;
                    if (rabbit.UsesQuorumQueues)
                    {
                        e.SetQuorumQueue();
                    }

                    e.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
                    e.UseMessageRetry(r =>
                    {
                        r.Intervals(200, 1000, 3000, 5000, 10000);
                        r.Handle<NpgsqlException>(ex => ex.IsTransient);
                        r.Handle<SocketException>();
                        r.Handle<TimeoutException>();
                    });
                    e.ConfigureConsumer<Pipelines.PipelineRequestedConsumer>(context);
                });
                var intake = context.GetRequiredService<Flow.JobIntake>();
                var link = context.GetRequiredService<BrokerLink>();
                var lanes = context.GetRequiredService<Flow.Lanes.JobLanes>();
                var priorities = context.GetRequiredService<QueuePriorities>();
                var laneQueues = lanes.All.Select(l => l.Queue).ToList();
                foreach (var lane in lanes.All)
                {
                    intake.Watch(lane.Queue);
                    link.Watch(lane.Queue);
                    cfg.ReceiveEndpoint(lane.Queue, e =>
                    {
                        // Prefetch follows the lane's configured slots, so a lane never holds much more than it can run.
                        e.PrefetchCount = rabbit.PrefetchFor(lane.MaxSlots);
                        e.ConcurrentMessageLimit = lane.MaxSlots;
                        // Published requests reach the job queue only; a lane's queue gets what the worker sends on to it.
                        e.ConfigureConsumeTopology = lane == lanes.Shared;
                        if (rabbit.UsesQuorumQueues)
                        {
                            e.SetQuorumQueue();
                        }
                        else if (priorities.IsPriorityQueue(lane.Queue, laneQueues))
                        {
                            // Declared exactly as QueuePriorities found or made it: other arguments would be refused.
                            e.EnablePriority(QueuePriorities.MaxPriority);
                        }

                        // Producers in any language may publish plain JSON; envelopes still work.
                        e.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
                        e.ConfigureError(x =>
                        {
                            x.UseFilter(new UnreadableBodyReasonFilter());
                            x.UseFilter(new MassTransit.Middleware.GenerateFaultFilter());
                            x.UseFilter(new MassTransit.Middleware.ErrorTransportFilter());
                        });
                        e.UseMessageRetry(r =>
                        {
                            r.Intervals(200, 1000, 3000, 5000, 10000);
                            r.Handle<NpgsqlException>(ex => ex.IsTransient);
                            r.Handle<SocketException>();
                            r.Handle<TimeoutException>();
                        });
                        e.ConfigureConsumer<JobRequestedConsumer>(context);
                    });
                }
            });
        });
        return services;
    }
}
