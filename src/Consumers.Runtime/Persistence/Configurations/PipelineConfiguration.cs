using Consumers.Runtime.Pipelines;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Consumers.Runtime.Persistence.Configurations;

internal sealed class PipelineConfiguration : IEntityTypeConfiguration<PipelineRecord>
{
    public void Configure(EntityTypeBuilder<PipelineRecord> builder)
    {
        builder.ToTable("pipelines", t =>
            t.HasCheckConstraint("ck_pipelines_status", "status IN ('running','succeeded','failed','cancelled')"));
        builder.HasKey(p => p.Id);
        builder.Property(p => p.Id).ValueGeneratedNever();
        builder.Property(p => p.Status).HasMaxLength(16).IsRequired();
        builder.Property(p => p.Source).HasMaxLength(4096).IsRequired();
        builder.Property(p => p.Request).HasColumnType("jsonb").IsRequired();
        builder.Property(p => p.FailedStep).HasMaxLength(64);
        builder.Property(p => p.ErrorCode).HasMaxLength(64);
        builder.Property(p => p.CancelReason).HasMaxLength(Control.ControlLimits.Reason);
        builder.Property(p => p.CancelBy).HasMaxLength(Control.ControlLimits.By);
        builder.Property(p => p.CreatedAt).HasDefaultValueSql("now()");
        builder.Property(p => p.UpdatedAt).HasDefaultValueSql("now()");
        // The sweep looks only at running pipelines.
        builder.HasIndex(p => p.CreatedAt).HasDatabaseName("ix_pipelines_running").HasFilter("status = 'running'");
    }
}

internal sealed class PipelineStepConfiguration : IEntityTypeConfiguration<PipelineStepRecord>
{
    public void Configure(EntityTypeBuilder<PipelineStepRecord> builder)
    {
        builder.ToTable("pipeline_steps", t =>
            t.HasCheckConstraint("ck_pipeline_steps_state", "state IN ('waiting','dispatched','succeeded','failed','cancelled','skipped')"));
        builder.HasKey(s => new { s.PipelineId, s.Name });
        builder.Property(s => s.Name).HasMaxLength(64);
        builder.Property(s => s.Stage).HasMaxLength(64).IsRequired();
        builder.Property(s => s.Request).HasColumnType("jsonb").IsRequired();
        builder.Property(s => s.State).HasMaxLength(16).IsRequired();
        builder.HasIndex(s => s.JobId).IsUnique();
        builder.HasOne<PipelineRecord>().WithMany().HasForeignKey(s => s.PipelineId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class PipelineEventConfiguration : IEntityTypeConfiguration<PipelineEventRecord>
{
    public void Configure(EntityTypeBuilder<PipelineEventRecord> builder)
    {
        builder.ToTable("pipeline_events", t => t.HasCheckConstraint("ck_pipeline_events_seq", "seq >= 1"));
        builder.HasKey(e => new { e.PipelineId, e.Seq });
        builder.Property(e => e.Type).HasMaxLength(32).IsRequired();
        builder.Property(e => e.Step).HasMaxLength(64);
        builder.Property(e => e.Data).HasColumnType("jsonb").IsRequired();
        builder.HasOne<PipelineRecord>().WithMany().HasForeignKey(e => e.PipelineId).OnDelete(DeleteBehavior.Cascade);
    }
}
