using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime;
using Consumers.Runtime.Control;
using RabbitMQ.Client;

namespace Consumers.IntegrationTests.Control;

/// <summary>
/// A job keeps its priority when it is parked by a pause and released by the resume, and when it is replayed from an
/// error queue: behind a backlog in a one-slot lane, the urgent job still overtakes the lower-priority ones.
/// </summary>
public sealed class PriorityKeptTests : IAsyncLifetime
{
    private const int Backlog = 30;
    private const string Stage = "synthetic";
    private const string LaneQueue = ContractNames.JobQueue + "." + Stage;

    // Lows that may start before the urgent job: the lane's slot and prefetch buffer, and what runs while the rest is
    // being sent back. Without its priority the urgent job would start after all of them.
    private const int MayStartBefore = 10;

    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_parked_job_keeps_its_priority_when_the_resume_releases_it()
    {
        var worker = await StartOneSlotWorkerAsync();
        var (exit, output, error) = await Cli.RunAsync(env, "pause", Stage, "--by", "test");
        Assert.True(exit == 0, output + error);
        // Workers read the pauses every second: submitted sooner, the first lows would start instead of being parked.
        await Eventually.WaitAsync(() => Task.FromResult(worker.Get<StagePauses>().IsPaused(Stage)), TimeSpan.FromSeconds(5),
            () => "the worker did not see the pause");
        var parking = $"{ContractNames.JobQueue}.paused.{Stage}";

        var lows = Lows();
        foreach (var job in lows)
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        await Eventually.WaitAsync(async () => await env.Rabbit.QueueDepthAsync(env.VirtualHost, parking) == Backlog,
            TimeSpan.FromSeconds(60), () => "the backlog was not parked");
        // Last into the parking queue, so last out of it.
        var urgent = Urgent();
        await env.Store.SubmitAsync(urgent, 3, CancellationToken.None);
        await Eventually.WaitAsync(async () => await env.Rabbit.QueueDepthAsync(env.VirtualHost, parking) == Backlog + 1,
            TimeSpan.FromSeconds(30), () => "the urgent job was not parked");

        (exit, output, error) = await Cli.RunAsync(env, "resume", Stage, "--by", "test");
        Assert.True(exit == 0, output + error);

        await AssertUrgentOvertookAsync(urgent);
    }

    [Fact]
    public async Task A_replayed_dead_letter_keeps_its_priority()
    {
        await StartOneSlotWorkerAsync();
        var errorQueue = LaneQueue + "_error";
        await env.Rabbit.DeclareQueueAsync(env.VirtualHost, errorQueue);
        // As MassTransit leaves them, except that the AMQP priority is not set: the request's own priority must be used.
        var urgent = Urgent();
        await PublishDeadLettersAsync(errorQueue, [.. Lows(), urgent]);

        var (exit, output, error) = await Cli.RunAsync(env, "dead-letters", "replay", "--all", "--queue", errorQueue, "--by", "test");
        Assert.True(exit == 0, output + error);
        Assert.Contains($"{Backlog + 1} replayed", output, StringComparison.Ordinal);

        await AssertUrgentOvertookAsync(urgent);
    }

    private async Task<InProcessWorker> StartOneSlotWorkerAsync()
    {
        var worker = await env.StartWorkerAsync("worker-a", new Dictionary<string, string?> { [$"Consumers:Flow:Stages:{Stage}:Slots"] = "1" });
        var lane = await env.Rabbit.QueueAsync(env.VirtualHost, LaneQueue);
        Assert.Equal(JobPriority.Highest, lane!["arguments"]!["x-max-priority"]!.GetValue<int>());
        return worker;
    }

    private static List<JobRequested> Lows() => [.. Enumerable.Range(0, Backlog)
        .Select(i => TestEnvironment.SyntheticJob($"kept/low-{i}.json", ("durationMs", "500")) with { Priority = 1 })];

    private static JobRequested Urgent() => TestEnvironment.SyntheticJob("kept/urgent.json") with { Priority = JobPriority.Highest };

    private async Task AssertUrgentOvertookAsync(JobRequested urgent)
    {
        var done = await env.WaitForTerminalAsync(urgent.JobId, TimeSpan.FromSeconds(60));
        Assert.Equal(JobStatuses.Succeeded, done.Status);
        var startedBefore = await env.CountAsync(
            $"SELECT count(*) FROM jobs WHERE priority = 1 AND processing_started_at < '{done.ProcessingStartedAt!.Value:O}'::timestamptz");
        Assert.True(startedBefore <= MayStartBefore,
            $"{startedBefore} of {Backlog} lower-priority jobs started before the urgent one: its priority was lost on the way back");
    }

    private async Task PublishDeadLettersAsync(string queue, IReadOnlyList<JobRequested> jobs)
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
        foreach (var job in jobs)
        {
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
            await channel.BasicPublishAsync("", queue, true, properties, JsonSerializer.SerializeToUtf8Bytes(job, ContractJson.Options));
        }
    }
}
