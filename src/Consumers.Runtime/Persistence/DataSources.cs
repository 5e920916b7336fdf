using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Consumers.Runtime.Persistence;

/// <summary>
/// The ways the runtime talks to PostgreSQL. The shared pool skips Npgsql's session reset when a connection
/// goes back (No Reset On Close): the reset costs six statements on every return, and nothing on that pool
/// leaves session state behind. The one place that does (the relay's LISTEN) uses <see cref="Session"/>:
/// unpooled, so closing the connection ends the session with it. Cluster leases use <see cref="Cluster"/>, a
/// small pool of their own, so that a renew never queues behind the jobs for a connection.
/// </summary>
public static class DataSources
{
    /// <summary>Key of the unpooled data source for connections that hold session state.</summary>
    public const string Session = "session";

    /// <summary>Key of the small pool for cluster-lease statements (acquire, renew, release).</summary>
    public const string Cluster = "cluster";

    public static IServiceCollection AddConsumersDataSources(this IServiceCollection services)
    {
        services.AddSingleton(sp => Build(sp, pooled: true));
        services.AddKeyedSingleton(Session, (sp, _) => Build(sp, pooled: false));
        services.AddKeyedSingleton(Cluster, (sp, _) =>
        {
            var database = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            var builder = new NpgsqlDataSourceBuilder(database.ConnectionString);
            ConfigureCluster(builder.ConnectionStringBuilder, database);
            return builder.Build();
        });
        return services;
    }

    internal static void ConfigureCluster(NpgsqlConnectionStringBuilder connection, DatabaseOptions database)
    {
        Configure(connection, database, pooled: true);
        connection.MaxPoolSize = 4;
        connection.MinPoolSize = 0;
        // A lease call that times out is cancelled; when the server cannot be reached either (a partition), the
        // connection is given up after this instead of Npgsql's default two seconds.
        connection.CancellationTimeout = 500;
    }

    private static NpgsqlDataSource Build(IServiceProvider services, bool pooled)
    {
        var database = services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        var builder = new NpgsqlDataSourceBuilder(database.ConnectionString);
        Configure(builder.ConnectionStringBuilder, database, pooled);
        return builder.Build();
    }

    internal static void Configure(NpgsqlConnectionStringBuilder connection, DatabaseOptions database, bool pooled)
    {
        connection.CommandTimeout = database.CommandTimeoutSeconds;
        connection.ApplicationName ??= "consumers";
        if (!Mentions(connection, "TcpKeepAlive") && !Mentions(connection, "TcpKeepAliveTime"))
        {
            // The kernel's default sends the first probe after two hours: a connection whose peer vanished without a
            // FIN (a partition, a lost host) would sit in the pool, or hold a session, that long. These probes find
            // it dead in about half a minute (10 s idle, then up to 9 probes 2 s apart) at no cost to the database.
            connection.TcpKeepAlive = true;
            connection.TcpKeepAliveTime = DefaultTcpKeepAliveSeconds;
            connection.TcpKeepAliveInterval = DefaultTcpKeepAliveIntervalSeconds;
        }

        if (!pooled)
        {
            connection.Pooling = false;
            return;
        }

        connection.NoResetOnClose = true;
        if (!Mentions(connection, "MaxAutoPrepare"))
        {
            // Every statement of the job path runs thousands of times; unprepared, PostgreSQL plans each one
            // again (about half again as much database CPU per job). Kept when the string says otherwise.
            connection.MaxAutoPrepare = DefaultMaxAutoPrepare;
        }
    }

    // NpgsqlConnectionStringBuilder.ContainsKey is true for every keyword it knows; only the string says what was given.
    private static bool Mentions(NpgsqlConnectionStringBuilder connection, string keyword) =>
        new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connection.ConnectionString }.Keys
            .Cast<string>()
            .Any(key => key.Replace(" ", "", StringComparison.Ordinal).Equals(keyword, StringComparison.OrdinalIgnoreCase));

    /// <summary>Idle seconds before the first TCP keepalive probe, when the connection string does not say.</summary>
    public const int DefaultTcpKeepAliveSeconds = 10;

    /// <summary>Seconds between unanswered TCP keepalive probes, when the connection string does not say.</summary>
    public const int DefaultTcpKeepAliveIntervalSeconds = 2;

    /// <summary>Statements kept prepared per connection when the connection string does not say.</summary>
    public const int DefaultMaxAutoPrepare = 64;
}
