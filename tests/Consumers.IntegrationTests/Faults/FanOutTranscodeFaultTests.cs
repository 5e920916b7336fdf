using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.IntegrationTests.Media;
using Consumers.Runtime.Checkpoints;
using Consumers.Testing.Faults;
using Consumers.Testing.Media;

namespace Consumers.IntegrationTests.Faults;

/// <summary>
/// A fanned-out transcode (the stage default <c>Consumers:Media:TranscodeParallel</c> = 3) whose segment job loses its
/// worker to SIGKILL: the sweep requeues that segment job, another worker continues it from the parent's checkpoint
/// without encoding its recorded segments again, and the parent joins and commits once. A 16 s clip in 2 s segments:
/// eight segments in ranges of 2, 3 and 3.
/// </summary>
public sealed class FanOutTranscodeFaultTests : IAsyncLifetime
{
    private const int ClipSeconds = 16;

    // The first segment of the second segment job's range, [2, 5): its first attempt waits after recording it.
    private const int HeldSegment = 2;
    private TestEnvironment env = null!;
    private string traces = "";

    public async Task InitializeAsync()
    {
        env = await TestEnvironment.CreateAsync();
        traces = Path.Combine(env.LogRoot, "segments");
        await TestClips.CreateAsync(env.MediaRoot, "long.mp4", ClipSeconds, size: "640x480");
    }

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_worker_killed_holding_a_segment_job_has_that_segment_job_retried_elsewhere_and_the_parent_completes_once()
    {
        var workers = new List<WorkerProcess>();
        foreach (var id in new[] { "fan-a", "fan-b", "fan-c" })
        {
            workers.Add(await env.StartWorkerProcessAsync(id, Settings()));
        }

        var job = new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "transcode",
            Source = "long.mp4",
            OutputKey = $"proxies/{Guid.NewGuid():N}.mp4",
            Parameters = new Dictionary<string, string> { ["height"] = "480", ["videoBitrate"] = "2000k" },
        };
        var segmentJobs = Enumerable.Range(0, 3).Select(i => SegmentJobParameters.SegmentJobId(job.JobId, i)).ToList();
        await env.Store.SubmitAsync(job, 5, CancellationToken.None);

        // The victim: the segment job of range [2, 5), held by its first attempt right after it recorded segment 2, with
        // two segments still to encode (held, so the kill cannot come after a burst that finished the range).
        var victim = Guid.Empty;
        WorkerProcess? killed = null;
        await Eventually.WaitAsync(async () =>
        {
            foreach (var segmentJob in segmentJobs)
            {
                if (SegmentTrace.Read(traces, segmentJob).Any(l => l is { Attempt: 1, Step: "recorded", Index: HeldSegment })
                    && await env.JobAsync(segmentJob) is { Status: JobStatuses.Processing, LeaseOwner: { } owner })
                {
                    (victim, killed) = (segmentJob, workers.Single(w => w.WorkerId == owner));
                    return true;
                }
            }

            return false;
        }, TimeSpan.FromSeconds(90), () => "no segment job got going");
        await killed!.KillAsync();
        var recordedBefore = SegmentTrace.Read(traces, victim).Where(l => l.Step == "recorded").Select(l => l.Index).ToHashSet();

        await FaultChecks.AssertAllSucceededOnceAsync(env, [job.JobId, .. segmentJobs], TimeSpan.FromSeconds(150));

        // The victim ran again, on a surviving worker, and did not encode what it had recorded.
        var victimTimeline = await env.TimelineAsync(victim);
        Assert.Contains(victimTimeline, e => e.Type == TimelineEventTypes.Requeued);
        var retried = victimTimeline.Last(e => e.Type == TimelineEventTypes.Started);
        Assert.True(retried.Attempt > 1, "the segment job was not retried");
        Assert.DoesNotContain(killed.WorkerId, retried.Data, StringComparison.Ordinal);
        var encodedAgain = SegmentTrace.Read(traces, victim).Where(l => l is { Attempt: > 1, Step: "encode" }).Select(l => l.Index);
        Assert.Empty(encodedAgain.Intersect(recordedBefore));

        // Each segment recorded exactly once over all segment jobs (the kill came after the held segment's trace line),
        // the parent encoded none itself, waited once and completed once.
        var recorded = segmentJobs.SelectMany(s => SegmentTrace.Read(traces, s)).Where(l => l is { Step: "recorded", Index: >= 0 }).Select(l => l.Index).ToList();
        Assert.Equal(Enumerable.Range(0, ClipSeconds / 2), recorded.Order());
        Assert.Contains(HeldSegment, recordedBefore);
        Assert.DoesNotContain(SegmentTrace.Read(traces, job.JobId), l => l is { Step: "encode", Index: >= 0 });
        var timeline = await env.TimelineAsync(job.JobId);
        Assert.Single(timeline, e => e.Type == TimelineEventTypes.Waiting);
        Assert.Single(timeline, e => e.Type == TimelineEventTypes.Completed);

        var path = Path.Combine(env.ArtifactRoot, job.OutputKey);
        Assert.Equal("", await MediaCompare.DecodeErrorsAsync(path));
        var streams = await MediaCompare.StreamsAsync(path);
        Assert.Equal(["video", "audio"], streams.Select(s => s.Type));
        Assert.Equal(ClipSeconds * 25, streams[0].Frames);
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM job_checkpoints"));
        foreach (var worker in workers)
        {
            await worker.DisposeAsync();
        }
    }

    private Dictionary<string, string?> Settings() => new()
    {
        ["Consumers:Media:SegmentSeconds"] = "2",
        ["Consumers:Media:SegmentFromSeconds"] = "0",
        ["Consumers:Media:TranscodeParallel"] = "3",
        ["Consumers:Media:SegmentTraceDirectory"] = traces,
        ["Consumers:Media:SegmentTraceHold"] = $"recorded {HeldSegment}",
        ["Consumers:Flow:ConcurrentJobs"] = "1",
    };
}
