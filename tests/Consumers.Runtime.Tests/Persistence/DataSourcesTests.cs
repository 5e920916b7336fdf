using Consumers.Runtime.Persistence;
using Npgsql;

namespace Consumers.Runtime.Tests.Persistence;

public sealed class DataSourcesTests
{
    private readonly DatabaseOptions database = new() { CommandTimeoutSeconds = 12 };

    [Fact]
    public void The_pool_prepares_statements_and_skips_the_session_reset_unless_told_otherwise()
    {
        var connection = new NpgsqlConnectionStringBuilder("Host=db;Database=consumers");

        DataSources.Configure(connection, database, pooled: true);

        Assert.Equal(DataSources.DefaultMaxAutoPrepare, connection.MaxAutoPrepare);
        Assert.True(connection.NoResetOnClose);
        Assert.Equal(12, connection.CommandTimeout);
        Assert.Equal("consumers", connection.ApplicationName);
    }

    [Theory]
    [InlineData("Host=db;Max Auto Prepare=0", 0)]
    [InlineData("Host=db;max auto prepare=8", 8)]
    [InlineData("Host=db;MaxAutoPrepare=16", 16)]
    public void A_connection_string_that_sets_auto_prepare_keeps_its_value(string connectionString, int expected)
    {
        var connection = new NpgsqlConnectionStringBuilder(connectionString);

        DataSources.Configure(connection, database, pooled: true);

        Assert.Equal(expected, connection.MaxAutoPrepare);
    }

    [Fact]
    public void The_session_source_is_unpooled()
    {
        var connection = new NpgsqlConnectionStringBuilder("Host=db");

        DataSources.Configure(connection, database, pooled: false);

        Assert.False(connection.Pooling);
        Assert.Equal(0, connection.MaxAutoPrepare);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Both_sources_probe_idle_connections_with_tcp_keepalive(bool pooled)
    {
        var connection = new NpgsqlConnectionStringBuilder("Host=db");

        DataSources.Configure(connection, database, pooled);

        Assert.True(connection.TcpKeepAlive);
        Assert.Equal(DataSources.DefaultTcpKeepAliveSeconds, connection.TcpKeepAliveTime);
        Assert.Equal(DataSources.DefaultTcpKeepAliveIntervalSeconds, connection.TcpKeepAliveInterval);
    }

    [Theory]
    [InlineData("Host=db;Tcp Keepalive=false", false, 0)]
    [InlineData("Host=db;TCP Keepalive Time=60", false, 60)]
    public void A_connection_string_that_sets_tcp_keepalive_keeps_its_values(string connectionString, bool keepAlive, int time)
    {
        var connection = new NpgsqlConnectionStringBuilder(connectionString);

        DataSources.Configure(connection, database, pooled: true);

        Assert.Equal(keepAlive, connection.TcpKeepAlive);
        Assert.Equal(time, connection.TcpKeepAliveTime);
    }
}
