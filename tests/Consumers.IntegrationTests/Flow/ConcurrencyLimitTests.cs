using System.Globalization;
using System.Text.RegularExpressions;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Flow;

/// <summary>A worker never runs more jobs than its slots, and RabbitMQ never hands it much more (seed 14.2).</summary>
public sealed partial class ConcurrencyLimitTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task Running_jobs_and_prefetch_stay_within_the_configured_slots_under_a_backlog()
    {
        const int slots = 2;
        const int buffer = 1;
        await using var worker = await WorkerProcess.StartAsync(env, "limited", new Dictionary<string, string?>
        {
            ["Consumers:RabbitMq:ConcurrentJobs"] = slots.ToString(CultureInfo.InvariantCulture),
            ["Consumers:RabbitMq:PrefetchBuffer"] = buffer.ToString(CultureInfo.InvariantCulture),
        });
        var jobs = Enumerable.Range(0, 12).Select(i => new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "synthetic",
            OutputKey = $"limit/{i}.json",
            Parameters = new Dictionary<string, string> { ["durationMs"] = "700" },
        }).ToList();
        foreach (var job in jobs)
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        var maxInDatabase = 0;
        var maxInGauge = 0.0;
        var samples = 0;
        while (await env.CountAsync("SELECT count(*) FROM jobs WHERE status <> 'succeeded'") > 0 && samples < 2000)
        {
            samples++;
            maxInDatabase = Math.Max(maxInDatabase, (int)await env.CountAsync("SELECT count(*) FROM jobs WHERE status = 'processing' AND lease_owner = 'limited'"));
            var gauge = GaugeLine().Match(await worker.ScrapeAsync());
            if (gauge.Success)
            {
                maxInGauge = Math.Max(maxInGauge, double.Parse(gauge.Groups[1].Value, CultureInfo.InvariantCulture));
            }

            var consumers = await env.Rabbit.ConsumersAsync(env.VirtualHost);
            foreach (var consumer in consumers)
            {
                if (consumer?["queue"]?["name"]?.GetValue<string>() == "consumers.jobs")
                {
                    Assert.InRange(consumer["prefetch_count"]!.GetValue<int>(), 1, slots + buffer);
                }
            }

            await Task.Delay(50);
        }

        Assert.All(jobs, j => Assert.Equal(JobStatuses.Succeeded, env.JobAsync(j.JobId).Result!.Status));
        Assert.InRange(maxInDatabase, 1, slots);
        Assert.InRange(maxInGauge, 1, slots);
    }

    [GeneratedRegex(@"^worker_concurrent_jobs\{[^}]*\} ([0-9.]+)", RegexOptions.Multiline)]
    private static partial Regex GaugeLine();
}
