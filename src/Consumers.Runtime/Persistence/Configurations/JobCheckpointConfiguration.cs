using Consumers.Runtime.Checkpoints;
using Consumers.Runtime.Jobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Consumers.Runtime.Persistence.Configurations;

internal sealed class JobCheckpointConfiguration : IEntityTypeConfiguration<JobCheckpointRecord>
{
    public void Configure(EntityTypeBuilder<JobCheckpointRecord> builder)
    {
        builder.ToTable("job_checkpoints");
        builder.HasKey(c => c.JobId);
        builder.Property(c => c.State).HasColumnType("jsonb").IsRequired();
        builder.Property(c => c.Parts).HasColumnType("jsonb").IsRequired();
        builder.Property(c => c.UpdatedAt).HasDefaultValueSql("now()");
        // Retention deletes finished jobs; their checkpoint rows (if a cleanup was missed) go with them.
        builder.HasOne<JobRecord>().WithOne().HasForeignKey<JobCheckpointRecord>(c => c.JobId).OnDelete(DeleteBehavior.Cascade);
    }
}
