using System.Diagnostics;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Testing.Faults;
using Npgsql;
using Xunit.Abstractions;

namespace Consumers.IntegrationTests.Faults;

/// <summary>
/// PostgreSQL present but unwell, on a private cluster: out of connections, sessions terminated several times a
/// second, a session idle in transaction. Valid jobs all finish once, none dead-lettered or failed.
/// </summary>
public sealed class DatabaseStarvationFaultTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Connections_starved_by_another_client()
    {
        await using var postgres = await PrivatePostgres.StartAsync(maxConnections: 40);
        await using var env = await TestEnvironment.CreateAsync(postgres.AdminConnectionString);
        var workers = new[] { await env.StartWorkerProcessAsync("starved-a"), await env.StartWorkerProcessAsync("starved-b") };
        var jobs = await SubmitAsync(env, "before", 10, 2000);

        // Another client takes every connection it can, then gives back three.
        var hog = new List<NpgsqlConnection>();
        try
        {
            while (true)
            {
                var connection = new NpgsqlConnection(postgres.AdminConnectionString);
                try
                {
                    await connection.OpenAsync();
                    hog.Add(connection);
                }
                catch (PostgresException ex) when (ex.SqlState == "53300")
                {
                    await connection.DisposeAsync();
                    break;
                }
            }

            foreach (var connection in hog.TakeLast(3).ToList())
            {
                hog.Remove(connection);
                await connection.DisposeAsync();
            }

            output.WriteLine($"holding {hog.Count} connections");
            for (var i = 0; i < 20; i++)
            {
                var (id, json) = FaultChecks.PlainRequest($"starved-{i}.json", 500);
                await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", json);
                jobs.Add(id);
            }

            await Task.Delay(TimeSpan.FromSeconds(30));
            Assert.True((await env.Rabbit.QueueDepthAsync(env.VirtualHost, "consumers.jobs_error") ?? 0) == 0, "a delivery was dead-lettered while starved");
        }
        finally
        {
            foreach (var connection in hog)
            {
                await connection.DisposeAsync();
            }
        }

        await FaultChecks.AssertAllSucceededOnceAsync(env, jobs, TimeSpan.FromSeconds(180));
        foreach (var worker in workers)
        {
            await FaultChecks.WaitForDatabaseAvailableAsync(worker, 1, TimeSpan.FromSeconds(30));
        }
    }

    [Fact]
    public async Task Backends_terminated_three_times_a_second()
    {
        await using var postgres = await PrivatePostgres.StartAsync();
        await using var env = await TestEnvironment.CreateAsync(postgres.AdminConnectionString);
        await env.StartWorkerProcessAsync("terminated-a");
        await env.StartWorkerProcessAsync("terminated-b");
        var database = new NpgsqlConnectionStringBuilder(env.ConnectionString).Database!;
        var jobs = new List<Guid>();
        var terminated = 0L;
        var clock = Stopwatch.StartNew();
        await using (var killer = new NpgsqlConnection(postgres.SuperuserConnectionString()))
        {
            await killer.OpenAsync();
            var batch = 0;
            while (clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                if (batch++ % 6 == 0)
                {
                    for (var i = 0; i < 4; i++)
                    {
                        var (id, json) = FaultChecks.PlainRequest($"terminated-{batch}-{i}.json", 700);
                        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", json);
                        jobs.Add(id);
                    }
                }

                await using var kill = new NpgsqlCommand(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = @db AND pid <> pg_backend_pid()", killer);
                kill.Parameters.AddWithValue("db", database);
                terminated += (long)(await kill.ExecuteScalarAsync())!;
                await Task.Delay(333);
            }
        }

        output.WriteLine($"terminated {terminated} backends in {clock.Elapsed.TotalSeconds:F0}s; {jobs.Count} jobs");
        await FaultChecks.AssertAllSucceededOnceAsync(env, jobs, TimeSpan.FromSeconds(180));
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM jobs WHERE last_error_code = 'RETRIES_EXHAUSTED'"));
        output.WriteLine($"charged attempts beyond the first: {await env.CountAsync("SELECT coalesce(sum(attempt_count - uncharged_attempts - 1), 0) FROM jobs")}");
    }

    [Fact]
    public async Task A_session_idle_in_transaction_while_jobs_run()
    {
        var idleFor = FaultChecks.LongRuns ? TimeSpan.FromMinutes(10) : TimeSpan.FromSeconds(60);
        await using var postgres = await PrivatePostgres.StartAsync();
        await using var env = await TestEnvironment.CreateAsync(postgres.AdminConnectionString);
        await env.StartWorkerProcessAsync("idle-a");
        await env.StartWorkerProcessAsync("idle-b");
        var jobs = new List<Guid>();
        await using (var idle = new NpgsqlConnection(env.ConnectionString + ";Pooling=false"))
        {
            await idle.OpenAsync();
            await using var transaction = await idle.BeginTransactionAsync();
            // A snapshot that pins vacuum's horizon for as long as the session sits there.
            await using (var touch = new NpgsqlCommand("SELECT txid_current(), count(*) FROM jobs", idle, transaction))
            {
                await touch.ExecuteScalarAsync();
            }

            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < idleFor)
            {
                jobs.AddRange(await SubmitAsync(env, $"idle-{jobs.Count}", 5, 300));
                await Task.Delay(TimeSpan.FromSeconds(5));
            }

            output.WriteLine($"idle in transaction for {clock.Elapsed.TotalSeconds:F0}s; {jobs.Count} jobs; dead tuples then:");
            await ReportDeadTuplesAsync(env);
            await transaction.RollbackAsync();
        }

        await FaultChecks.AssertAllSucceededOnceAsync(env, jobs, TimeSpan.FromSeconds(180));
    }

    private async Task ReportDeadTuplesAsync(TestEnvironment env)
    {
        await using var command = env.DataSource.CreateCommand(
            "SELECT relname, n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE relname IN ('jobs', 'outbox_messages', 'job_events') ORDER BY relname");
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            output.WriteLine($"  {reader.GetString(0)}: {reader.GetInt64(1)} live, {reader.GetInt64(2)} dead");
        }
    }

    private static async Task<List<Guid>> SubmitAsync(TestEnvironment env, string prefix, int count, int durationMs)
    {
        var jobs = new List<Guid>();
        for (var i = 0; i < count; i++)
        {
            var job = TestEnvironment.SyntheticJob($"{prefix}-{i}.json", ("durationMs", durationMs.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
            jobs.Add(job.JobId);
        }

        return jobs;
    }
}
