using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Consumers.Runtime.Persistence;

/// <summary>
/// The two ways the runtime talks to PostgreSQL. The shared pool skips Npgsql's session reset when a connection
/// goes back (No Reset On Close): the reset costs six statements on every return, and nothing on that pool
/// leaves session state behind. The one place that does (the relay's advisory lock and LISTEN) uses
/// <see cref="Session"/>: unpooled, so closing the connection ends the session and its lock with it.
/// </summary>
public static class DataSources
{
    /// <summary>Key of the unpooled data source for connections that hold session state.</summary>
    public const string Session = "session";

    public static IServiceCollection AddConsumersDataSources(this IServiceCollection services)
    {
        services.AddSingleton(sp => Build(sp, pooled: true));
        services.AddKeyedSingleton(Session, (sp, _) => Build(sp, pooled: false));
        return services;
    }

    private static NpgsqlDataSource Build(IServiceProvider services, bool pooled)
    {
        var database = services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        var builder = new NpgsqlDataSourceBuilder(database.ConnectionString);
        builder.ConnectionStringBuilder.CommandTimeout = database.CommandTimeoutSeconds;
        builder.ConnectionStringBuilder.ApplicationName ??= "consumers";
        if (pooled)
        {
            builder.ConnectionStringBuilder.NoResetOnClose = true;
        }
        else
        {
            builder.ConnectionStringBuilder.Pooling = false;
        }

        return builder.Build();
    }
}
