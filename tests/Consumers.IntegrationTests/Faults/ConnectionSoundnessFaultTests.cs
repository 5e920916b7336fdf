using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Persistence;
using Consumers.Testing.Faults;
using Npgsql;
using Xunit.Abstractions;

namespace Consumers.IntegrationTests.Faults;

/// <summary>
/// A pooled connection stays in step with the server after statements fail (a NUL in a text parameter: 22021),
/// time out, or lose their backend, with the worker's own pool settings (auto prepare on, no reset on close) and
/// a pool of one, so every statement reuses the connection the failure happened on. The acquire is a batch of
/// three auto-prepared statements, the shape Npgsql's issues on desyncs after errors are about.
/// </summary>
public sealed class ConnectionSoundnessFaultTests(ITestOutputHelper output)
{
    private static readonly AcquireSettings Settings = new("soundness", 30, 600, 3);

    [Fact]
    public async Task Failing_timed_out_and_terminated_statements_leave_the_connection_in_step()
    {
        await using var postgres = await PrivatePostgres.StartAsync();
        await using var env = await TestEnvironment.CreateAsync(postgres.AdminConnectionString);
        var builder = new NpgsqlDataSourceBuilder(env.ConnectionString);
        DataSources.Configure(builder.ConnectionStringBuilder, new DatabaseOptions { CommandTimeoutSeconds = 1 }, pooled: true);
        builder.ConnectionStringBuilder.MaxPoolSize = 1;
        await using var dataSource = builder.Build();
        var store = new JobStore(dataSource, new Runtime.Flow.Lanes.JobQueueName(Contracts.ContractNames.JobQueue));
        var database = builder.ConnectionStringBuilder.Database!;
        var failures = new Dictionary<string, int>();

        for (var round = 0; round < 30; round++)
        {
            // Enough uses for every statement of the path to be auto-prepared (Npgsql prepares after 5).
            for (var i = 0; i < 6; i++)
            {
                await AcquireValidAsync(store);
            }

            switch (round % 3)
            {
                case 0:
                    // Two rejected requests in a row, as in the report.
                    for (var i = 0; i < 2; i++)
                    {
                        var rejected = await Assert.ThrowsAsync<PostgresException>(() => store.AcquireAsync(WithNul(), Settings, CancellationToken.None));
                        Count(failures, rejected.SqlState);
                    }

                    break;
                case 1:
                    await using (var slow = dataSource.CreateCommand("SELECT pg_sleep(3)"))
                    {
                        var timedOut = await Assert.ThrowsAnyAsync<NpgsqlException>(() => slow.ExecuteScalarAsync());
                        Count(failures, "timeout: " + timedOut.GetType().Name);
                    }

                    break;
                default:
                    await using (var killer = new NpgsqlConnection(postgres.SuperuserConnectionString()))
                    {
                        await killer.OpenAsync();
                        await using var kill = new NpgsqlCommand("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = @db AND backend_type = 'client backend' AND pid <> pg_backend_pid()", killer);
                        kill.Parameters.AddWithValue("db", database);
                        await kill.ExecuteScalarAsync();
                    }

                    // The first use of the dead connection fails (that is expected); it must fail as a lost connection.
                    try
                    {
                        await AcquireValidAsync(store);
                    }
                    catch (Exception ex) when (DatabaseFailures.IsUnavailable(ex))
                    {
                        Count(failures, "terminated: " + ((ex as PostgresException)?.SqlState ?? ex.GetType().Name));
                    }

                    break;
            }

            // What matters: the next statements on the same pool run normally, no "unexpected backend message".
            for (var i = 0; i < 3; i++)
            {
                await AcquireValidAsync(store);
            }
        }

        output.WriteLine("failures provoked: " + string.Join(", ", failures.Select(f => $"{f.Key} x{f.Value}")));
        Assert.Contains("22021", failures.Keys);
    }

    private static async Task AcquireValidAsync(JobStore store)
    {
        var outcome = await store.AcquireAsync(TestEnvironment.SyntheticJob($"ok-{Guid.NewGuid():N}.json"), Settings, CancellationToken.None);
        Assert.Equal(AcquireOutcomeKind.Acquired, outcome.Kind);
    }

    private static JobRequested WithNul() => TestEnvironment.SyntheticJob($"nul-{Guid.NewGuid():N}.json") with { Source = "clip\u0000.mp4" };

    private static void Count(Dictionary<string, int> failures, string key) => failures[key] = failures.GetValueOrDefault(key) + 1;
}
