using Consumers.Runtime.Jobs;
using Consumers.Runtime.Timeline;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Consumers.Runtime.Persistence.Configurations;

internal sealed class JobEventConfiguration : IEntityTypeConfiguration<JobEventRecord>
{
    public void Configure(EntityTypeBuilder<JobEventRecord> builder)
    {
        builder.ToTable("job_events", t => t.HasCheckConstraint("ck_job_events_seq", "seq >= 1"));
        // The key makes a duplicate sequence number impossible, whatever a bug upstream does.
        builder.HasKey(e => new { e.JobId, e.Seq });
        builder.Property(e => e.Type).HasMaxLength(32).IsRequired();
        builder.Property(e => e.Data).HasColumnType("jsonb").IsRequired();
        builder.HasOne<JobRecord>().WithMany().HasForeignKey(e => e.JobId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(e => e.OccurredAt).HasDatabaseName("ix_job_events_occurred_at");
    }
}
