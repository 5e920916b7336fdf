using Consumers.Contracts;
using Consumers.Runtime.Messaging;
using Consumers.Runtime.Settings;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace Consumers.Runtime.Control;

public static class ControlServiceCollectionExtensions
{
    /// <summary>What every verb may need to steer work: cancels, pauses and the audit.</summary>
    public static IServiceCollection AddConsumersControlCore(this IServiceCollection services, IConfiguration configuration)
    {
        // The lanes name the error queues the dead-letter verbs read.
        services.AddValidatedSettings<Flow.FlowOptions>(configuration, Flow.FlowOptions.Section);
        services.AddSingleton<DeadLetterQueues>();
        // Bound once: the retention job's schedule (AddRetentionJob) reads this same instance.
        services.AddSettingsBoundNow<RetentionOptions>(configuration, RetentionOptions.Section);
        services.AddSingleton<OperatorAudit>();
        services.AddSingleton<RetentionStore>();
        services.AddSingleton<JobCancellation>();
        services.AddSingleton<StagePauseStore>();
        return services;
    }

    /// <summary>What a worker adds: the local pause set and the listener that keeps it (and cancels) current.</summary>
    public static IServiceCollection AddConsumersControlWorker(this IServiceCollection services)
    {
        services.AddSingleton<StagePauses>();
        services.AddSingleton<ParkingLot>();
        services.AddReceiveEndpointObserver(sp => sp.GetRequiredService<ParkingLot>());
        // Before the bus: the first read of the pauses ends before any delivery is taken.
        services.AddHostedService<ControlPoller>();
        services.AddHostedService<OperatorActionCounts>();
        return services;
    }

    /// <summary>The retention job on the recovery sweep's clustered Quartz scheduler (so it runs only where Recovery is enabled).</summary>
    public static void AddRetentionJob(IQuartzBuilder quartz, RetentionOptions retention)
    {
        if (!retention.Enabled)
        {
            return;
        }

        quartz.AddJob<RetentionJob>(j => j.WithIdentity(RetentionJob.Key).StoreDurably());
        quartz.AddTrigger(t => t
            .ForJob(RetentionJob.Key)
            .WithIdentity("retention-trigger", "consumers")
            .StartNow()
            .WithSimpleSchedule(s => s
                .WithInterval(retention.Interval)
                .RepeatForever()
                .WithMisfireInstruction(SimpleTriggerMisfireInstruction.NextWithRemainingCount)));
    }

    /// <summary>
    /// The control endpoint: <see cref="CancelJob"/> from its exchange, or as plain JSON sent straight to
    /// <see cref="ContractNames.CancelJobQueue"/>. Its own queue, so the raw-JSON endpoint reads one message type.
    /// </summary>
    public static void ConfigureControlEndpoints(this IRabbitMqBusFactoryConfigurator cfg, IBusRegistrationContext context, RabbitMqOptions rabbit)
    {
        cfg.ReceiveEndpoint(ContractNames.CancelJobQueue, e =>
        {
            e.PrefetchCount = 4;
            if (rabbit.UsesQuorumQueues)
            {
                e.SetQuorumQueue();
            }

            e.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
            e.UseMessageRetry(r => r.Intervals(200, 1000, 3000, 5000, 10000));
            e.ConfigureConsumer<CancelJobConsumer>(context);
        });

        var parking = context.GetRequiredService<ParkingLot>();
        foreach (var stage in context.GetRequiredService<Stages.StageRegistry>().Names.Order(StringComparer.Ordinal))
        {
            cfg.ReceiveEndpoint(parking.QueueOf(stage), e =>
            {
                // Only what a lane parked comes here; releasing a delivery is one send, so a small prefetch drains fast enough.
                e.ConfigureConsumeTopology = false;
                e.PrefetchCount = 16;
                if (rabbit.UsesQuorumQueues)
                {
                    e.SetQuorumQueue();
                }

                e.UseRawJsonDeserializer(RawSerializerOptions.AnyMessageType, isDefault: true);
                e.UseMessageRetry(r => r.Intervals(200, 1000, 3000, 5000, 10000));
                e.ConfigureConsumer<ParkedJobConsumer>(context);
            });
        }
    }
}
