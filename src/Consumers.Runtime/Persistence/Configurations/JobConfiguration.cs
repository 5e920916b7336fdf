using Consumers.Contracts;
using Consumers.Runtime.Jobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Consumers.Runtime.Persistence.Configurations;

internal sealed class JobConfiguration : IEntityTypeConfiguration<JobRecord>
{
    public void Configure(EntityTypeBuilder<JobRecord> builder)
    {
        builder.ToTable("jobs", t =>
        {
            t.HasCheckConstraint("ck_jobs_status", $"status IN ('{string.Join("','", JobStatuses.All)}')");
            t.HasCheckConstraint("ck_jobs_progress", "progress_percent IS NULL OR progress_percent BETWEEN 0 AND 100");
        });
        builder.HasKey(j => j.Id);
        builder.Property(j => j.Id).ValueGeneratedNever();
        builder.Property(j => j.Stage).HasMaxLength(64).IsRequired();
        builder.Property(j => j.Source).HasMaxLength(4096).IsRequired();
        builder.Property(j => j.OutputKey).HasMaxLength(1024).IsRequired();
        builder.Property(j => j.Request).HasColumnType("jsonb").IsRequired();
        builder.Property(j => j.Status).HasMaxLength(16).IsRequired();
        builder.Property(j => j.LeaseOwner).HasMaxLength(256);
        builder.Property(j => j.LastErrorCode).HasMaxLength(64);
        builder.Property(j => j.ArtifactKey).HasMaxLength(1024);
        builder.Property(j => j.ArtifactSha256).HasMaxLength(64);
        builder.Property(j => j.CancelReason).HasMaxLength(Control.ControlLimits.Reason);
        builder.Property(j => j.CancelBy).HasMaxLength(Control.ControlLimits.By);
        builder.Property(j => j.Result).HasColumnType("jsonb");
        builder.HasIndex(j => j.PipelineId).HasDatabaseName("ix_jobs_pipeline_id").HasFilter("pipeline_id IS NOT NULL");
        // A fanned-out transcode's segment jobs: found by their parent (release, cancel, retention), removed with it.
        builder.HasOne<JobRecord>().WithMany().HasForeignKey(j => j.ParentJobId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(j => j.ParentJobId).HasDatabaseName("ix_jobs_parent_job_id").HasFilter("parent_job_id IS NOT NULL");
        // Counters start at zero, so inserts name only what they know.
        builder.Property(j => j.AttemptCount).HasDefaultValue(0);
        builder.Property(j => j.UnchargedAttempts).HasDefaultValue(0);
        builder.Property(j => j.LeaseExpiryCount).HasDefaultValue(0);
        builder.Property(j => j.LeaseToken).HasDefaultValue(0L);
        builder.Property(j => j.LeaseTimeoutSeconds).HasDefaultValue(0);
        builder.Property(j => j.LastEventSeq).HasDefaultValue(0L);
        // Rows from before priorities had the default; adding a column with a constant default does not rewrite the table.
        builder.Property(j => j.Priority).HasDefaultValue(JobPriority.Default).HasSentinel(JobPriority.Default);
        builder.Property(j => j.Dispatched).HasDefaultValue(false);
        builder.Property(j => j.CreatedAt).HasDefaultValueSql("now()");
        builder.Property(j => j.UpdatedAt).HasDefaultValueSql("now()");

        // The recovery sweep scans processing rows by heartbeat age; without this index each sweep reads every row.
        builder.HasIndex(j => new { j.Status, j.LastHeartbeatAt }).HasDatabaseName("ix_jobs_status_last_heartbeat_at");
        // The dispatcher finds queued jobs whose next JobRequested has not gone out yet.
        builder.HasIndex(j => j.NotBefore).HasDatabaseName("ix_jobs_undispatched_not_before")
            .HasFilter("status = 'queued' AND NOT dispatched");
        builder.HasIndex(j => j.CreatedAt).HasDatabaseName("ix_jobs_created_at");
        // Retention deletes finished jobs oldest first.
        builder.HasIndex(j => j.FinishedAt).HasDatabaseName("ix_jobs_finished_at")
            .HasFilter("status IN ('succeeded', 'failed', 'cancelled')");
        // The sweep finishes cancels whose worker died; only the few rows with a pending request are indexed.
        builder.HasIndex(j => j.CancelRequestedAt).HasDatabaseName("ix_jobs_cancel_pending")
            .HasFilter("cancel_requested_at IS NOT NULL AND status IN ('queued', 'processing')");
    }
}
