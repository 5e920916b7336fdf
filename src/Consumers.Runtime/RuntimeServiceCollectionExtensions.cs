using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Cluster;
using Consumers.Runtime.Control;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Flow;
using Consumers.Runtime.Flow.Adaptive;
using Consumers.Runtime.Flow.Backpressure;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Flow.Shutdown;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Messaging;
using Consumers.Runtime.Outbox;
using Consumers.Runtime.Persistence;
using Consumers.Runtime.Progress;
using Consumers.Runtime.Recovery;
using Consumers.Runtime.Scratch;
using Consumers.Runtime.Settings;
using Consumers.Runtime.Stages;
using Consumers.Runtime.Telemetry;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Consumers.Runtime;

public static class RuntimeServiceCollectionExtensions
{
    /// <summary>The parts every verb needs: settings, the database, the job store and the stages.</summary>
    public static IServiceCollection AddConsumersCore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedSettings<DatabaseOptions>(configuration, DatabaseOptions.Section);
        services.AddValidatedSettings<WorkerOptions>(configuration, WorkerOptions.Section);
        services.AddValidatedSettings<LeaseOptions>(configuration, LeaseOptions.Section);
        services.AddSingleton<IValidateOptions<DatabaseOptions>>(new AcquireTimeoutRule(configuration));
        services.AddValidatedSettings<RetryOptions>(configuration, RetryOptions.Section);
        services.AddValidatedSettings<ArtifactOptions>(configuration, ArtifactOptions.Section);
        services.AddValidatedSettings<ScratchOptions>(configuration, ScratchOptions.Section);
        services.AddValidatedSettings<OutboxOptions>(configuration, OutboxOptions.Section);
        services.AddValidatedSettings<RabbitMqOptions>(configuration, RabbitMqOptions.Section);
        // ConcurrentJobs was a RabbitMQ setting; it is the worker's capacity, so it moved to Consumers:Flow.
        services.AddRenamedSetting<FlowOptions>(configuration, FlowOptions.LegacyConcurrentJobsKey, FlowOptions.Section + ":" + nameof(FlowOptions.ConcurrentJobs),
            static (flow, value) => flow.ConcurrentJobs = int.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var slots) ? slots : 0);
        services.AddOptions<SyntheticOptions>().Bind(configuration.GetSection(SyntheticOptions.Section));

        services.TryAddSingleton(TimeProvider.System);
        services.AddConsumersDataSources();
        services.AddDbContext<ConsumersDbContext>((sp, options) =>
            options.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>()));
        // The job queue's name, apart from the broker settings: the store dispatches retries to it, the lanes consume it.
        services.AddSingleton(sp => new JobQueueName(sp.GetRequiredService<IOptions<RabbitMqOptions>>().Value.JobQueue));
        services.AddSingleton<JobStore>();
        services.AddSingleton<IHeartbeatStore>(sp => sp.GetRequiredService<JobStore>());
        services.AddSingleton<IProgressStore>(sp => sp.GetRequiredService<JobStore>());
        services.AddSingleton<Scratch.IAttemptStates>(sp => sp.GetRequiredService<JobStore>());
        services.AddSingleton<ClusterLeaseStore>();
        // Bound once: AddRecoverySweep reads this same instance for the schedule it registers.
        services.AddSettingsBoundNow<RecoveryOptions>(configuration, RecoveryOptions.Section);
        services.AddSingleton<RecoveryStore>();
        services.AddScoped<JobQueries>();
        services.AddMetrics();
        services.AddSingleton<ConsumersMetrics>();
        services.AddConsumersControlCore(configuration);
        services.AddSingleton<Pipelines.PipelineStore>();
        services.AddSingleton<Pipelines.PipelineSubmission>();
        services.AddSingleton<Pipelines.PipelineCancellation>();
        services.AddSingleton<Control.ICancelOtherwise>(sp => sp.GetRequiredService<Pipelines.PipelineCancellation>());
        services.AddScoped<Pipelines.PipelineQueries>();

        services.AddSingleton<IStage, ManifestStage>();
        services.AddSingleton<IStage, SyntheticStage>();
        services.AddSingleton<StageRegistry>();
        services.AddSingleton<IArtifactStore, FileSystemArtifactStore>();
        services.AddSingleton<ScratchSpace>();
        services.AddSingleton<Checkpoints.CheckpointStore>();
        services.AddSingleton<Checkpoints.WorkFolders>();
        return services;
    }

    /// <summary>What a worker process adds: the consumer, the job runner, the heartbeat and the outbox relay.</summary>
    public static IServiceCollection AddConsumersWorker(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddConsumersCore(configuration);
        // Before everything else: nothing may start, least of all the bus, until the schema is there.
        services.AddSingleton<SchemaGate>();
        services.AddHostedService(sp => sp.GetRequiredService<SchemaGate>());
        // The bus first: hosted services start in order, and the loops below use it.
        services.AddSingleton<JobIntake>();
        services.AddSingleton<IIntakeSwitch>(sp => sp.GetRequiredService<JobIntake>());
        services.AddSingleton<JobLanes>();
        services.AddReceiveEndpointObserver(sp => sp.GetRequiredService<JobIntake>());
        services.AddSingleton<BrokerLink>();
        services.AddReceiveEndpointObserver(sp => sp.GetRequiredService<BrokerLink>());
        services.AddConsumersControlWorker();
        services.AddConsumersMessaging(consumeJobs: true);
        services.AddJobRunner();
        services.AddSingleton<HeartbeatService>();
        services.AddHostedService(sp => sp.GetRequiredService<HeartbeatService>());
        services.AddRecoverySweep(configuration);
        // One instance, also the hosted service; with Consumers:Outbox:Enabled=false it never competes for the lease.
        services.AddSingleton<OutboxRelay>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());

        // On every worker, relay or not: a stalled outbox must show wherever an operator looks.
        services.AddSingleton<OutboxBacklogMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxBacklogMonitor>());
        services.AddSingleton<Flow.Shutdown.IOutboxBacklog>(sp => sp.GetRequiredService<OutboxBacklogMonitor>());
        services.AddSingleton<OutboxStallHealthCheck>();

        services.AddSingleton<DatabaseMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<DatabaseMonitor>());
        services.AddSingleton<IQueueDepthProbe, ManagementQueueDepth>();
        services.AddHostedService<BackpressureMonitor>();
        services.AddHostedService<LaneMetrics>();
        services.AddHostedService<AdaptiveConcurrencyController>();
        services.AddSingleton<ScratchJanitor>();
        services.AddHostedService(sp => sp.GetRequiredService<ScratchJanitor>());

        // Last registered, first stopped: the drain runs before the relay and the bus shut down.
        services.AddHostedService<ShutdownDrain>();
        return services;
    }

    /// <summary>The job runner and its parts (acquire, attempt, stage execution, artifact commit, failure decision, outcome writes).</summary>
    public static IServiceCollection AddJobRunner(this IServiceCollection services)
    {
        services.AddSingleton<ActiveJobRegistry>();
        services.AddSingleton<OutcomeWriter>();
        services.AddSingleton<IJobTransactions, FinalizeTransactions>();
        services.AddSingleton<CompletionBatcher>();
        services.AddSingleton<ArtifactCommitter>();
        services.AddSingleton<AttemptFailures>();
        services.AddSingleton<StageExecution>();
        services.AddSingleton<Checkpoints.CheckpointCleanup>();
        services.AddSingleton<AttemptRunner>();
        services.AddSingleton<JobAcquisition>();
        services.AddSingleton<BoundedAcquire>();
        services.AddSingleton<JobRunner>();
        return services;
    }
}
