using Consumers.Runtime.Cluster;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Consumers.Runtime.Persistence.Configurations;

internal sealed class ClusterLeaseConfiguration : IEntityTypeConfiguration<ClusterLeaseRecord>
{
    public void Configure(EntityTypeBuilder<ClusterLeaseRecord> builder)
    {
        builder.ToTable("cluster_leases", t => t.HasCheckConstraint("ck_cluster_leases_generation", "generation >= 1"));
        builder.HasKey(l => l.Name);
        builder.Property(l => l.Name).HasMaxLength(64);
        builder.Property(l => l.Holder).HasMaxLength(256).IsRequired();
    }
}
