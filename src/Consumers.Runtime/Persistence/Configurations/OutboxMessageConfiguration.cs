using Consumers.Runtime.Outbox;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Consumers.Runtime.Persistence.Configurations;

internal sealed class OutboxMessageConfiguration : IEntityTypeConfiguration<OutboxMessageRecord>
{
    public void Configure(EntityTypeBuilder<OutboxMessageRecord> builder)
    {
        builder.ToTable("outbox_messages");
        builder.HasKey(m => m.Id);
        builder.Property(m => m.Id).UseIdentityAlwaysColumn();
        builder.Property(m => m.MessageType).HasMaxLength(128).IsRequired();
        builder.Property(m => m.Destination).HasMaxLength(256);
        builder.Property(m => m.TraceParent).HasMaxLength(128);
        builder.Property(m => m.Body).HasColumnType("jsonb").IsRequired();
        builder.Property(m => m.CreatedAt).HasDefaultValueSql("now()");
        builder.Property(m => m.Attempts).HasDefaultValue(0);
        builder.Property(m => m.NextAttemptAt).HasDefaultValueSql("now()");
        builder.HasIndex(m => m.MessageId).IsUnique();
        // Per-job ordering check of the relay: "is an earlier message of this job waiting for a retry?" Only rows
        // that failed a publish can be waiting (a failure is what sets attempts and a later next_attempt_at), so the
        // index holds just those: the check stays a lookup in a near-empty index however long the outbox grows.
        builder.HasIndex(m => new { m.JobId, m.Id }, "ix_outbox_messages_retrying").HasFilter("attempts > 0");
    }
}
