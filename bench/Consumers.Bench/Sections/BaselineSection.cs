using System.Diagnostics;
using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;
using MassTransit;
using Npgsql;
using NpgsqlTypes;

namespace Consumers.Bench.Sections;

/// <summary>One message of the consumer baselines: which row to update, with which fencing token.</summary>
public sealed class BaselinePing
{
    public int Id { get; init; }
    public long Token { get; init; }
}

/// <summary>
/// The limits the runtime is compared with, measured in the same run on the same stack: (a) a bare MassTransit
/// consumer that only acknowledges, (b) the same with one fenced UPDATE + commit per message, (c) the database's
/// raw single-row commit rate with as many connections as the worker has job slots.
/// </summary>
public static class BaselineSection
{
    public static async Task<SectionResult> RunAsync(BenchContext context)
    {
        var options = context.Options;
        var environment = context.Environment;
        var result = new SectionResult("baseline") { Runs = options.BaselineRuns };
        result.Settings["messages"] = options.BaselineMessages.ToString(CultureInfo.InvariantCulture);
        result.Settings["prefetch"] = options.Prefetch.ToString(CultureInfo.InvariantCulture);
        result.Settings["concurrentMessageLimit"] = options.Concurrency.ToString(CultureInfo.InvariantCulture);
        result.Settings["commitConnections"] = options.EffectiveCommitConnections.ToString(CultureInfo.InvariantCulture);
        result.Settings["commitSeconds"] = options.CommitSeconds.ToString(CultureInfo.InvariantCulture);

        await environment.ExecuteAsync(
            "CREATE TABLE bench_leases (id int PRIMARY KEY, lease_token bigint NOT NULL, counter bigint NOT NULL DEFAULT 0); " +
            $"INSERT INTO bench_leases (id, lease_token) SELECT g, 1 FROM generate_series(1, {options.BaselineMessages}) g; " +
            "CREATE TABLE bench_commits (id int PRIMARY KEY, counter bigint NOT NULL DEFAULT 0); " +
            $"INSERT INTO bench_commits (id) SELECT g FROM generate_series(1, {options.BaselineMessages}) g; " +
            "ANALYZE bench_leases; ANALYZE bench_commits");

        // The same pool settings as the worker's connection string.
        await using var updates = NpgsqlDataSource.Create(environment.WorkerConnectionString);

        var bare = new List<double>();
        var withUpdate = new List<double>();
        var commits = new List<double>();
        for (var run = 1; run <= options.BaselineRuns; run++)
        {
            var rate = await DrainAsync(context, $"bench.bare.{run}", null);
            bare.Add(rate);
            Progress.Line(string.Create(CultureInfo.InvariantCulture, $"baseline run {run}: bare consumer {rate:F0} msg/s"));

            rate = await DrainAsync(context, $"bench.update.{run}", updates);
            withUpdate.Add(rate);
            Progress.Line(string.Create(CultureInfo.InvariantCulture, $"baseline run {run}: consumer + fenced update {rate:F0} msg/s"));

            rate = await RawCommitsAsync(environment, options);
            commits.Add(rate);
            Progress.Line(string.Create(CultureInfo.InvariantCulture, $"baseline run {run}: raw single-row commits {rate:F0} /s"));
        }

        context.BareConsumerRate = Stats.Median(bare);
        context.ConsumerWithUpdateRate = Stats.Median(withUpdate);
        context.RawCommitRate = Stats.Median(commits);
        result.Add("(a) bare consumer, median", context.BareConsumerRate, "msg/s", "runs: " + Join(bare));
        result.Add("(b) consumer + fenced UPDATE/commit, median", context.ConsumerWithUpdateRate, "msg/s", "runs: " + Join(withUpdate));
        result.Add("(c) raw single-row commits, median", context.RawCommitRate, "commits/s", "runs: " + Join(commits));
        result.Notes.Add("(a)/(b): durable queue pre-filled with persistent messages (publisher confirms on), drained by a MassTransit 8.5.12 " +
                         "receive endpoint in the benchmark process; rate = messages / (first handler start .. last handler end).");
        result.Notes.Add("(c): Npgsql, one prepared 'UPDATE ... WHERE id = $1' per transaction (autocommit) on each connection, distinct rows per connection.");
        return result;
    }

    private static string Join(IEnumerable<double> values) =>
        string.Join(" / ", values.Select(v => v.ToString("F0", CultureInfo.InvariantCulture)));

    /// <summary>Pre-fills a durable queue, then drains it; returns messages per second.</summary>
    private static async Task<double> DrainAsync(BenchContext context, string queue, NpgsqlDataSource? updates)
    {
        var options = context.Options;
        var environment = context.Environment;
        var total = options.BaselineMessages;

        var producer = CreateBus(environment, null);
        await producer.StartAsync();
        try
        {
            var endpoint = await producer.GetSendEndpoint(new Uri("queue:" + queue));
            const int InFlight = 200;
            for (var start = 1; start <= total; start += InFlight)
            {
                var end = Math.Min(total, start + InFlight - 1);
                await Task.WhenAll(Enumerable.Range(start, end - start + 1)
                    .Select(id => endpoint.Send(new BaselinePing { Id = id, Token = 1 })));
            }
        }
        finally
        {
            await producer.StopAsync();
        }

        var handled = 0;
        var unfenced = 0;
        long first = 0;
        long last = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task Handle(ConsumeContext<BaselinePing> message)
        {
            Interlocked.CompareExchange(ref first, Stopwatch.GetTimestamp(), 0);
            if (updates is not null)
            {
                await using var command = updates.CreateCommand("UPDATE bench_leases SET counter = counter + 1 WHERE id = $1 AND lease_token = $2");
                command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = message.Message.Id });
                command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = message.Message.Token });
                if (await command.ExecuteNonQueryAsync() != 1)
                {
                    Interlocked.Increment(ref unfenced);
                }
            }

            if (Interlocked.Increment(ref handled) == total)
            {
                Interlocked.Exchange(ref last, Stopwatch.GetTimestamp());
                done.TrySetResult();
            }
        }

        var consumer = CreateBus(environment, cfg => cfg.ReceiveEndpoint(queue, e =>
        {
            e.PrefetchCount = options.Prefetch;
            e.ConcurrentMessageLimit = options.Concurrency;
            e.ConfigureConsumeTopology = false;
            e.Handler<BaselinePing>(Handle);
        }));
        await consumer.StartAsync();
        try
        {
            var finished = await Task.WhenAny(done.Task, Task.Delay(TimeSpan.FromSeconds(120)));
            if (finished != done.Task)
            {
                throw new TimeoutException($"baseline queue {queue} drained only {handled} of {total} messages in 120 s");
            }
        }
        finally
        {
            await consumer.StopAsync();
        }

        if (unfenced > 0)
        {
            throw new InvalidOperationException($"{unfenced} fenced updates matched no row: the baseline table is not what it should be");
        }

        return total / Stopwatch.GetElapsedTime(first, last).TotalSeconds;
    }

    private static IBusControl CreateBus(BenchEnvironment environment, Action<IRabbitMqBusFactoryConfigurator>? configure) =>
        Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(StackSettings.RabbitHost, StackSettings.RabbitPort, environment.VirtualHost, h =>
            {
                h.Username(StackSettings.RabbitUser);
                h.Password(StackSettings.RabbitPassword);
                h.PublisherConfirmation = true;
            });
            configure?.Invoke(cfg);
        });

    /// <summary>K connections, each committing single-row updates for T seconds; returns commits per second.</summary>
    private static async Task<double> RawCommitsAsync(BenchEnvironment environment, BenchOptions options)
    {
        var connections = options.EffectiveCommitConnections;
        var rows = options.BaselineMessages;
        var duration = TimeSpan.FromSeconds(options.CommitSeconds);
        await using var dataSource = NpgsqlDataSource.Create(environment.WorkerConnectionString);
        var started = Stopwatch.StartNew();
        var counts = await Task.WhenAll(Enumerable.Range(0, connections).Select(async index =>
        {
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var command = new NpgsqlCommand("UPDATE bench_commits SET counter = counter + 1 WHERE id = $1", connection);
            var id = new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = 1 };
            command.Parameters.Add(id);
            await command.PrepareAsync();
            var committed = 0L;
            // Each connection walks its own stride of rows: no two connections wait on the same row lock.
            var next = index;
            while (started.Elapsed < duration)
            {
                id.Value = (next % rows) + 1;
                next += connections;
                await command.ExecuteNonQueryAsync();
                committed++;
            }

            return committed;
        }));
        return counts.Sum() / started.Elapsed.TotalSeconds;
    }
}
