using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime;
using RabbitMQ.Client;

namespace Consumers.IntegrationTests.Control;

/// <summary>Dead letters on the real broker: listed with their fault, valid ones replayed once, invalid ones kept, a duplicate harmless.</summary>
public sealed class DeadLetterTests : IAsyncLifetime
{
    private const string ErrorQueue = ContractNames.JobQueue + "_error";
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task Replay_returns_valid_dead_letters_to_the_job_queue_once_and_keeps_the_invalid_one()
    {
        await env.StartWorkerAsync();
        // A real dead letter: MassTransit moves a request without a job id to the error queue with its fault headers.
        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, ContractNames.JobQueue, """{"stage":"synthetic","outputKey":"out/x.json"}""");
        await Eventually.WaitAsync(async () => await env.Rabbit.QueueDepthAsync(env.VirtualHost, ErrorQueue) == 1,
            TimeSpan.FromSeconds(30), () => "the invalid request was not dead-lettered");

        // Valid requests that ended there while a dependency was down (as before this runtime retried them in place).
        var jobs = Enumerable.Range(0, 2).Select(i => TestEnvironment.SyntheticJob($"out/replayed-{i}.json")).ToList();
        foreach (var job in jobs)
        {
            await PublishDeadLetterAsync(job);
        }

        var (exit, output, error) = await Cli.RunAsync(env, "dead-letters", "list", "--json");
        Assert.True(exit == 0, output + error);
        var listed = JsonDocument.Parse(output).RootElement.EnumerateArray().ToList();
        Assert.Equal(3, listed.Count);
        Assert.Equal(2, listed.Count(l => l.GetProperty("valid").GetBoolean()));
        Assert.All(listed, l => Assert.False(string.IsNullOrEmpty(l.GetProperty("faultMessage").GetString())));

        (exit, output, error) = await Cli.RunAsync(env, "dead-letters", "replay", "--all", "--by", "dave");
        Assert.True(exit == 0, output + error);
        Assert.Contains("2 replayed", output, StringComparison.Ordinal);
        foreach (var job in jobs)
        {
            Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(60))).Status);
        }

        (exit, output, _) = await Cli.RunAsync(env, "dead-letters", "replay", "--all");
        Assert.Equal(0, exit);
        Assert.Contains("0 replayed", output, StringComparison.Ordinal);
        (_, output, _) = await Cli.RunAsync(env, "dead-letters", "list", "--json");
        var left = Assert.Single(JsonDocument.Parse(output).RootElement.EnumerateArray());
        Assert.False(left.GetProperty("valid").GetBoolean());

        // A copy of one that already ran, replayed again, is skipped on acquire.
        await PublishDeadLetterAsync(jobs[0]);
        (_, output, _) = await Cli.RunAsync(env, "dead-letters", "replay", "--all");
        Assert.Contains("1 replayed", output, StringComparison.Ordinal);
        await Eventually.WaitAsync(async () => await env.Rabbit.QueueDepthAsync(env.VirtualHost, ContractNames.JobQueue) == 0,
            TimeSpan.FromSeconds(30), () => "the duplicate was not consumed");
        foreach (var job in jobs)
        {
            Assert.Single(await env.TimelineAsync(job.JobId), e => e.Type == TimelineEventTypes.Started);
        }

        Assert.Equal(3, await env.CountAsync("SELECT count(*) FROM operator_actions WHERE action = 'dead-letter-replay'"));
        await env.AssertAllTimelinesValidAsync();
    }

    private async Task PublishDeadLetterAsync(JobRequested job)
    {
        var factory = new ConnectionFactory
        {
            HostName = StackSettings.RabbitHost,
            Port = StackSettings.RabbitPort,
            UserName = StackSettings.RabbitUser,
            Password = StackSettings.RabbitPassword,
            VirtualHost = env.VirtualHost,
        };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var properties = new BasicProperties
        {
            MessageId = Guid.NewGuid().ToString(),
            ContentType = "application/json",
            Persistent = true,
            Headers = new Dictionary<string, object?>
            {
                ["MT-Reason"] = "fault",
                ["MT-Fault-ExceptionType"] = "Npgsql.NpgsqlException",
                ["MT-Fault-Message"] = "Failed to connect to 127.0.0.1:54329",
            },
        };
        var body = JsonSerializer.SerializeToUtf8Bytes(job, ContractJson.Options);
        await channel.BasicPublishAsync("", ErrorQueue, true, properties, body);
    }
}
