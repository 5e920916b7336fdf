using Consumers.Runtime.Cluster;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Outbox;
using Consumers.Runtime.Timeline;
using Microsoft.EntityFrameworkCore;

namespace Consumers.Runtime.Persistence;

/// <summary>
/// The schema and the read side. Hot-path state changes are single SQL statements in <see cref="JobStore"/>
/// (one round trip, no change tracking); EF Core owns the model, the migrations and the queries of the CLI.
/// </summary>
public sealed class ConsumersDbContext(DbContextOptions<ConsumersDbContext> options) : DbContext(options)
{
    public DbSet<JobRecord> Jobs => Set<JobRecord>();
    public DbSet<JobEventRecord> JobEvents => Set<JobEventRecord>();
    public DbSet<OutboxMessageRecord> OutboxMessages => Set<OutboxMessageRecord>();
    public DbSet<ClusterLeaseRecord> ClusterLeases => Set<ClusterLeaseRecord>();
    public DbSet<Control.StagePauseRecord> StagePauses => Set<Control.StagePauseRecord>();
    public DbSet<Control.OperatorActionRecord> OperatorActions => Set<Control.OperatorActionRecord>();
    public DbSet<Checkpoints.JobCheckpointRecord> JobCheckpoints => Set<Checkpoints.JobCheckpointRecord>();
    public DbSet<Pipelines.PipelineRecord> Pipelines => Set<Pipelines.PipelineRecord>();
    public DbSet<Pipelines.PipelineStepRecord> PipelineSteps => Set<Pipelines.PipelineStepRecord>();
    public DbSet<Pipelines.PipelineEventRecord> PipelineEvents => Set<Pipelines.PipelineEventRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(ConsumersDbContext).Assembly);
        modelBuilder.UseSnakeCaseNames();
    }
}
