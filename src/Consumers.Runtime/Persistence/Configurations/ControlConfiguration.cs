using Consumers.Runtime.Control;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Consumers.Runtime.Persistence.Configurations;

internal sealed class StagePauseConfiguration : IEntityTypeConfiguration<StagePauseRecord>
{
    public void Configure(EntityTypeBuilder<StagePauseRecord> builder)
    {
        builder.ToTable("stage_pauses");
        builder.HasKey(p => p.Stage);
        builder.Property(p => p.Stage).HasMaxLength(64);
        builder.Property(p => p.PausedBy).HasMaxLength(ControlLimits.By).IsRequired();
        builder.Property(p => p.Reason).HasMaxLength(ControlLimits.Reason);
        builder.Property(p => p.PausedAt).HasDefaultValueSql("now()");
    }
}

internal sealed class OperatorActionConfiguration : IEntityTypeConfiguration<OperatorActionRecord>
{
    public void Configure(EntityTypeBuilder<OperatorActionRecord> builder)
    {
        builder.ToTable("operator_actions");
        builder.HasKey(a => a.Id);
        builder.Property(a => a.Id).UseIdentityAlwaysColumn();
        builder.Property(a => a.At).HasDefaultValueSql("now()");
        builder.Property(a => a.Action).HasMaxLength(32).IsRequired();
        builder.Property(a => a.Target).HasMaxLength(256).IsRequired();
        builder.Property(a => a.By).HasMaxLength(ControlLimits.By).IsRequired();
        builder.Property(a => a.Reason).HasMaxLength(ControlLimits.Reason);
        builder.Property(a => a.Outcome).HasMaxLength(64);
        builder.HasIndex(a => a.At).HasDatabaseName("ix_operator_actions_at");
    }
}
