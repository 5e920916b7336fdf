using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Foundation;

/// <summary>
/// <c>consumers run</c> against a database without the schema: it says so in one line, does not become ready,
/// takes no job (so none can land in an error queue), and starts by itself once <c>consumers migrate</c> ran.
/// </summary>
public sealed class StartupSchemaTests : IAsyncLifetime
{
    private const string WaitingLine = "Not starting: the database has no Consumers schema yet: run `consumers migrate`";

    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync(migrate: false);

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_worker_without_the_schema_takes_no_job_until_migrate_then_runs_it()
    {
        // A producer was faster than the deploy: a valid job already waits in the job queue.
        await env.Rabbit.DeclareQueueAsync(env.VirtualHost, ContractNames.JobQueue);
        env.CreateMediaFile("early.bin", 1500);
        var early = TestEnvironment.ManifestJob("early.bin", "early.json");
        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, ContractNames.JobQueue, JsonSerializer.Serialize(early, Runtime.ContractJson.Options));

        await using var worker = await env.StartWorkerProcessAsync("schemaless", waitUntilReady: false);
        await Eventually.WaitAsync(() => Task.FromResult(worker.ReadLog().Contains(WaitingLine, StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), () => $"the worker never said why it waits; log:\n{worker.ReadLog()}");

        Assert.False(worker.HasExited);
        Assert.NotEqual(200, await worker.ReadyStatusAsync());
        // The management API's counts lag a few seconds behind the publish.
        System.Text.Json.Nodes.JsonObject? queue = null;
        await Eventually.WaitAsync(async () =>
        {
            queue = await env.Rabbit.QueueAsync(env.VirtualHost, ContractNames.JobQueue);
            return queue?["messages"]?.GetValue<long>() == 1;
        }, TimeSpan.FromSeconds(30), () => $"the job queue does not show the waiting job: {queue}");
        // The management API leaves "consumers" out of a queue nobody ever consumed.
        Assert.Equal(0, queue!["consumers"]?.GetValue<long>() ?? 0);
        Assert.Equal(1, queue["messages_ready"]!.GetValue<long>());

        var migrate = await Cli.RunAsync(env, "migrate");
        Assert.True(migrate.ExitCode == 0, migrate.Error);

        await worker.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(early.JobId)).Status);
        Assert.Equal(0, await env.Rabbit.QueueDepthAsync(env.VirtualHost, ContractNames.JobQueue + "_error") ?? 0);
        await env.AssertAllTimelinesValidAsync();

        // One line while it waited for the schema (not one per check), and no stack trace. A check that lands while
        // `migrate` is applying its migrations rightly says once that the schema is behind.
        var log = worker.ReadLog();
        Assert.Equal(1, log.Split('\n').Count(line => line.Contains("Not starting: the database has no Consumers schema yet", StringComparison.Ordinal)));
        Assert.All(log.Split('\n').Where(line => line.Contains("Not starting:", StringComparison.Ordinal)),
            line => Assert.Matches("Not starting: the database (has no Consumers schema yet|schema is behind this version)", line));
        Assert.DoesNotContain("Exception", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_worker_that_waited_in_vain_exits_with_code_4_and_one_line()
    {
        await using var worker = await env.StartWorkerProcessAsync("gives-up",
            new Dictionary<string, string?> { ["Consumers:Database:SchemaWaitTimeout"] = "00:00:01" }, waitUntilReady: false);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await worker.WaitForExitAsync(bound.Token);

        Assert.Equal(4, worker.ExitCode);
        await AssertLoggedAsync(worker, "error: gave up waiting: the database has no Consumers schema yet: run `consumers migrate`");
    }

    [Fact]
    public async Task A_worker_with_a_wrong_password_exits_with_code_4_at_once()
    {
        var wrong = new Npgsql.NpgsqlConnectionStringBuilder(env.ConnectionString) { Password = "not-the-password" }.ConnectionString;
        await using var worker = await env.StartWorkerProcessAsync("wrong-password",
            new Dictionary<string, string?> { ["Consumers:Database:ConnectionString"] = wrong }, waitUntilReady: false);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await worker.WaitForExitAsync(bound.Token);

        Assert.Equal(4, worker.ExitCode);
        await AssertLoggedAsync(worker, "error: PostgreSQL refused the connection (28P01");
    }

    // The log is written as the output arrives, a little after the process exits.
    private static Task AssertLoggedAsync(Testing.Workers.WorkerProcess worker, string line) =>
        Eventually.WaitAsync(() => Task.FromResult(worker.ReadLog().Contains(line, StringComparison.Ordinal)), TimeSpan.FromSeconds(10),
            () => $"the worker did not print \"{line}\"; log:\n{worker.ReadLog()}");

}
