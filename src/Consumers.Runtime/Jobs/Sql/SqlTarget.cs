using Npgsql;

namespace Consumers.Runtime.Jobs.Sql;

/// <summary>
/// Where a store's statements run: the pool (the worker), or one open connection whose transaction the caller owns
/// (tests that roll every change back, so they can share a database and run side by side). Npgsql runs a command in
/// its connection's current transaction, so the statements themselves are the same either way.
/// </summary>
internal sealed class SqlTarget
{
    private readonly NpgsqlDataSource? dataSource;
    private readonly NpgsqlConnection? connection;

    public SqlTarget(NpgsqlDataSource dataSource) => this.dataSource = dataSource;

    public SqlTarget(NpgsqlConnection connection) => this.connection = connection;

    public NpgsqlCommand Command(string sql) => connection is null ? dataSource!.CreateCommand(sql) : new NpgsqlCommand(sql, connection);

    public NpgsqlBatch Batch() => connection is null ? dataSource!.CreateBatch() : new NpgsqlBatch(connection);
}
