using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Consumers.Runtime.Persistence;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting a worker.</summary>
internal sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<ConsumersDbContext>
{
    public ConsumersDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<ConsumersDbContext>()
            .UseNpgsql(new DatabaseOptions().ConnectionString)
            .Options;
        return new ConsumersDbContext(options);
    }
}
