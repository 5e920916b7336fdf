using Consumers.Runtime.Persistence;
using Microsoft.EntityFrameworkCore;

namespace Consumers.Runtime.Tests.Persistence;

public sealed class MigrationTests
{
    [Fact]
    public void The_migrations_match_the_model()
    {
        // No connection is opened: this compares the model with the last migration's snapshot.
        using var db = new ConsumersDbContext(new DbContextOptionsBuilder<ConsumersDbContext>().UseNpgsql("Host=unused").Options);

        Assert.False(db.Database.HasPendingModelChanges(), "the model changed without a migration: run dotnet ef migrations add");
    }
}
