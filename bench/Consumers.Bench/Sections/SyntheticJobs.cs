using System.Diagnostics;
using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Contracts;
using Consumers.Runtime.Stages;

namespace Consumers.Bench.Sections;

/// <summary>Submits and watches synthetic jobs, grouped by an output-key prefix.</summary>
public static class SyntheticJobs
{
    public static JobRequested Request(string prefix, int index, int durationMs) => new()
    {
        JobId = Guid.CreateVersion7(),
        Stage = SyntheticStage.StageName,
        Source = "",
        OutputKey = string.Create(CultureInfo.InvariantCulture, $"{prefix}/{index}.json"),
        Parameters = new Dictionary<string, string> { ["durationMs"] = durationMs.ToString(CultureInfo.InvariantCulture) },
    };

    /// <summary>
    /// Submits <paramref name="count"/> jobs through <c>JobStore.SubmitAsync</c> (row, <c>requested</c> event and
    /// <c>JobRequested</c> in the outbox, one transaction each), <paramref name="parallel"/> at a time. Returns jobs/s.
    /// </summary>
    public static async Task<double> SubmitAsync(BenchEnvironment environment, string prefix, int count, int durationMs, int parallel = 16)
    {
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, parallel).Select(async _ =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < count)
            {
                await environment.Store.SubmitAsync(Request(prefix, index, durationMs), maxAttempts: 3, CancellationToken.None);
            }
        }));
        return count / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Counts of succeeded and failed jobs under <paramref name="prefix"/>.</summary>
    public static async Task<(long Succeeded, long Failed)> CountAsync(BenchEnvironment environment, string prefix)
    {
        long succeeded = 0;
        long failed = 0;
        await environment.QueryAsync(
            "SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'failed') FROM jobs WHERE output_key LIKE @prefix",
            r =>
            {
                succeeded = r.GetInt64(0);
                failed = r.GetInt64(1);
            }, ("prefix", prefix + "/%"));
        return (succeeded, failed);
    }

    /// <summary>Waits until every job under the prefix has finished, printing progress; false when <paramref name="bound"/> passed first.</summary>
    public static async Task<bool> WaitFinishedAsync(BenchEnvironment environment, string prefix, int count, TimeSpan bound, string label)
    {
        var clock = Stopwatch.StartNew();
        var lastPrint = TimeSpan.Zero;
        while (true)
        {
            var (succeeded, failed) = await CountAsync(environment, prefix);
            if (succeeded + failed >= count)
            {
                if (failed > 0)
                {
                    Progress.Line($"{label}: {failed} jobs failed (see the worker logs)");
                }

                return true;
            }

            if (clock.Elapsed - lastPrint > TimeSpan.FromSeconds(3))
            {
                lastPrint = clock.Elapsed;
                Progress.Line($"{label}: {succeeded}/{count} succeeded");
            }

            if (clock.Elapsed > bound)
            {
                Progress.Line($"{label}: gave up after {bound.TotalSeconds:F0}s with {succeeded}/{count} succeeded");
                return false;
            }

            await Task.Delay(200);
        }
    }

    /// <summary>Waits until the outbox is empty; returns how long that took, or null when <paramref name="bound"/> passed.</summary>
    public static async Task<TimeSpan?> WaitOutboxEmptyAsync(BenchEnvironment environment, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        while (await environment.ScalarAsync<long>("SELECT count(*) FROM outbox_messages") > 0)
        {
            if (clock.Elapsed > bound)
            {
                return null;
            }

            await Task.Delay(100);
        }

        return clock.Elapsed;
    }
}
