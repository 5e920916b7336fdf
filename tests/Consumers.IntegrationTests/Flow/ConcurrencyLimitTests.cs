using System.Globalization;
using System.Text.RegularExpressions;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Flow;

/// <summary>A worker never runs more jobs than its slots, and RabbitMQ never hands it much more.</summary>
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
        await using var worker = await env.StartWorkerProcessAsync("limited", new Dictionary<string, string?>
        {
            ["Consumers:Flow:ConcurrentJobs"] = slots.ToString(CultureInfo.InvariantCulture),
            ["Consumers:RabbitMq:PrefetchBuffer"] = buffer.ToString(CultureInfo.InvariantCulture),
        });
        var jobs = Enumerable.Range(0, 12).Select(i => TestEnvironment.SyntheticJob($"limit/{i}.json", ("durationMs", "700"))).ToList();
        foreach (var job in jobs)
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        var (maxInDatabase, maxInGauge) = await SampleUntilAllSucceededAsync(worker,
            "SELECT count(*) FROM jobs WHERE status = 'processing' AND lease_owner = 'limited'", stage: null, "consumers.jobs", slots + buffer);

        Assert.All(jobs, j => Assert.Equal(JobStatuses.Succeeded, env.JobAsync(j.JobId).Result!.Status));
        Assert.InRange(maxInDatabase, 1, slots);
        Assert.InRange(maxInGauge, 1, slots);
    }

    [Fact]
    public async Task A_stage_in_its_own_lane_never_takes_more_than_its_slots_and_cannot_starve_other_stages()
    {
        // Long synthetic jobs stand in for transcodes: one lane slot of three for the whole worker.
        await using var worker = await env.StartWorkerProcessAsync("laned", new Dictionary<string, string?>
        {
            ["Consumers:Flow:ConcurrentJobs"] = "3",
            ["Consumers:RabbitMq:PrefetchBuffer"] = "1",
            ["Consumers:Flow:Stages:synthetic:Slots"] = "1",
        });
        var longJobs = Enumerable.Range(0, 4).Select(i => TestEnvironment.SyntheticJob($"lane/long-{i}.json", ("durationMs", "2500"))).ToList();
        foreach (var job in longJobs)
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        // Short jobs submitted behind the whole backlog of long ones.
        var shortJobs = Enumerable.Range(0, 6).Select(i =>
        {
            env.CreateMediaFile($"lane/short-{i}.bin", 1024);
            return TestEnvironment.ManifestJob($"lane/short-{i}.bin", $"lane/short-{i}.json");
        }).ToList();
        foreach (var job in shortJobs)
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        var (maxLongRunning, maxLongGauge) = await SampleUntilAllSucceededAsync(worker,
            "SELECT count(*) FROM jobs WHERE status = 'processing' AND stage = 'synthetic' AND lease_owner = 'laned'", "synthetic", "consumers.jobs.synthetic", 2);

        Assert.All(longJobs.Concat(shortJobs), j => Assert.Equal(JobStatuses.Succeeded, env.JobAsync(j.JobId).Result!.Status));
        Assert.Equal(1, maxLongRunning);
        Assert.Equal(1, maxLongGauge);

        // The short jobs did not queue behind the long ones: all of them were done before the last long one started.
        var lastLongStarted = await env.CountAsync(
            "SELECT (extract(epoch FROM max(processing_started_at)) * 1000)::bigint FROM jobs WHERE stage = 'synthetic'");
        var lastShortFinished = await env.CountAsync(
            "SELECT (extract(epoch FROM max(finished_at)) * 1000)::bigint FROM jobs WHERE stage = 'manifest'");
        Assert.True(lastShortFinished < lastLongStarted,
            $"short jobs finished at {lastShortFinished}, after the last long job started at {lastLongStarted}");
    }

    /// <summary>
    /// Until every job succeeded: the most jobs running by the database (<paramref name="runningSql"/>) and by the
    /// gauge (one stage, or the sum over stages), while checking the broker's prefetch on <paramref name="queue"/>.
    /// </summary>
    private async Task<(int Database, double Gauge)> SampleUntilAllSucceededAsync(WorkerProcess worker, string runningSql, string? stage, string queue, int maxPrefetch)
    {
        var maxInDatabase = 0;
        var maxInGauge = 0.0;
        for (var samples = 0; samples < 2000 && await env.CountAsync("SELECT count(*) FROM jobs WHERE status <> 'succeeded'") > 0; samples++)
        {
            maxInDatabase = Math.Max(maxInDatabase, (int)await env.CountAsync(runningSql));
            var running = GaugeLine().Matches(await worker.ScrapeAsync())
                .Where(m => stage is null || m.Groups["stage"].Value == stage)
                .Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));
            maxInGauge = Math.Max(maxInGauge, running);

            foreach (var consumer in await env.Rabbit.ConsumersAsync(env.VirtualHost))
            {
                if (consumer?["queue"]?["name"]?.GetValue<string>() == queue)
                {
                    Assert.InRange(consumer["prefetch_count"]!.GetValue<int>(), 1, maxPrefetch);
                }
            }

            await Task.Delay(50);
        }

        return (maxInDatabase, maxInGauge);
    }

    // One series per stage.
    [GeneratedRegex(@"^worker_concurrent_jobs\{[^}]*stage=""(?<stage>[^""]*)""[^}]*\} (?<value>[0-9.]+)", RegexOptions.Multiline)]
    private static partial Regex GaugeLine();
}
