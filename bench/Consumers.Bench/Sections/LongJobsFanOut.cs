using System.Globalization;
using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;
using Consumers.Contracts;

namespace Consumers.Bench.Sections;

/// <summary>
/// The long-jobs section's fan-out figures: the same source transcoded with <c>parallel=3</c> by 1, 2 and 3 worker
/// processes of one slot each. Three segment jobs share the workers there are; the parent waits without a slot and
/// joins. Wall time is the parent's timeline (<c>requested</c> to <c>completed</c>), so worker start-up is not counted.
/// </summary>
internal static class LongJobsFanOut
{
    public const int Parallel = 3;

    public static async Task AddAsync(BenchEnvironment environment, SectionResult result, int segmentSeconds, string traces, string source,
        double? segmented)
    {
        for (var workers = 1; workers <= Parallel; workers++)
        {
            Progress.Line(string.Create(CultureInfo.InvariantCulture, $"long-jobs: fan-out (parallel={Parallel}) on {workers} worker(s)"));
            for (var i = 0; i < workers; i++)
            {
                await environment.StartWorkerAsync(string.Create(CultureInfo.InvariantCulture, $"bench-fan-{workers}-{i}"), 1, Settings(segmentSeconds, traces));
            }

            var job = new JobRequested
            {
                JobId = Guid.NewGuid(),
                Stage = "transcode",
                Source = source,
                OutputKey = string.Create(CultureInfo.InvariantCulture, $"long-jobs/fan-{workers}-{Guid.NewGuid():N}.mp4"),
                Parameters = new Dictionary<string, string> { ["parallel"] = Parallel.ToString(CultureInfo.InvariantCulture) },
            };
            await environment.Store.SubmitAsync(job, 3, CancellationToken.None);
            var wall = await LongJobsSection.WaitForCompletedAsync(environment, job.JobId, TimeSpan.FromMinutes(20));
            await environment.StopWorkersAsync();
            result.Add(string.Create(CultureInfo.InvariantCulture, $"fan-out parallel={Parallel}, {workers} worker(s), wall"), wall, "s",
                segmented is > 0 && wall is > 0 ? string.Create(CultureInfo.InvariantCulture, $"{segmented / wall:F2}x the segmented run on one worker") : null);
        }

        var cores = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture);
        result.Notes.Add("Fan-out: " + Parallel.ToString(CultureInfo.InvariantCulture) + " segment jobs shared by 1, 2 and 3 one-slot workers on this machine (" +
            cores + " cores). libx264 already uses every core, so on 2 cores more workers mostly share the same CPU: the gain is bounded by " +
            "the cores, not the workers; on a fleet each worker brings its own.");
    }

    private static Dictionary<string, string?> Settings(int segmentSeconds, string traces) => new()
    {
        ["Consumers:Media:SegmentSeconds"] = segmentSeconds.ToString(CultureInfo.InvariantCulture),
        ["Consumers:Media:SegmentFromSeconds"] = "0",
        ["Consumers:Media:SegmentTraceDirectory"] = traces,
    };
}
