using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Faults;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Checkpoints;
using Consumers.Testing.Faults;
using Consumers.Testing.Media;

namespace Consumers.IntegrationTests.Media;

/// <summary>
/// A transcode fanned out (<c>parallel</c>) to segment jobs on real worker processes: the segments are encoded on more
/// than one worker, the parent waits without a slot, joins once and commits once, and the result is the one-pass
/// encode's. A 12 s clip with audio in 2 s segments: six segments in three ranges.
/// </summary>
public sealed class FanOutTranscodeTests : IAsyncLifetime
{
    private const double FrameSeconds = 1.0 / 25;
    private TestEnvironment env = null!;
    private string traces = "";

    public async Task InitializeAsync()
    {
        env = await TestEnvironment.CreateAsync();
        traces = Path.Combine(env.LogRoot, "segments");
    }

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_parallel_transcode_is_encoded_by_segment_jobs_on_several_workers_joined_once_and_equals_a_single_pass()
    {
        var source = await TestClips.CreateAsync(env.MediaRoot, "twelve.mp4", 12, audio: true);
        // One slot each: a worker running the parent's first attempt or a segment job takes nothing else meanwhile.
        var workers = new List<WorkerProcess>();
        foreach (var id in new[] { "fan-a", "fan-b", "fan-c" })
        {
            workers.Add(await env.StartWorkerProcessAsync(id, Settings()));
        }

        var job = new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "transcode",
            Source = "twelve.mp4",
            OutputKey = "proxies/twelve.mp4",
            Parameters = new Dictionary<string, string> { ["height"] = "120", ["parallel"] = "3" },
        };
        var segmentJobs = Enumerable.Range(0, 3).Select(i => SegmentJobParameters.SegmentJobId(job.JobId, i)).ToList();
        await env.Store.SubmitAsync(job, 5, CancellationToken.None);

        await FaultChecks.AssertAllSucceededOnceAsync(env, [job.JobId, .. segmentJobs], TimeSpan.FromSeconds(150));

        // The segment jobs are the parent's, each ran a range of its segments, on more than one worker.
        Assert.Equal(3, await env.CountAsync($"SELECT count(*) FROM jobs WHERE parent_job_id = '{job.JobId}'"));
        var segmentWorkers = new HashSet<string>();
        foreach (var segmentJob in segmentJobs)
        {
            segmentWorkers.UnionWith((await env.TimelineAsync(segmentJob)).Where(e => e.Type == TimelineEventTypes.Started).Select(Worker));
        }

        Assert.True(segmentWorkers.Count >= 2, $"every segment job ran on {string.Join(", ", segmentWorkers)}");
        var recorded = segmentJobs.SelectMany(s => SegmentTrace.Read(traces, s)).Where(t => t is { Step: "recorded", Index: >= 0 }).Select(t => t.Index);
        Assert.Equal([0, 1, 2, 3, 4, 5], recorded.Order());

        // The parent: one attempt that fanned out and waited, one that joined (encoding only the audio) and completed.
        var timeline = await env.TimelineAsync(job.JobId);
        Assert.Equal([TimelineEventTypes.Requested, TimelineEventTypes.Started, TimelineEventTypes.Waiting, TimelineEventTypes.Started],
            timeline.Select(e => e.Type).Where(t => t != TimelineEventTypes.Progress).Take(4));
        Assert.Single(timeline, e => e.Type == TimelineEventTypes.Completed);
        var parent = (await env.JobAsync(job.JobId))!;
        Assert.Equal((2, 1), (parent.AttemptCount, parent.UnchargedAttempts));
        Assert.DoesNotContain(SegmentTrace.Read(traces, job.JobId), t => t is { Step: "encode", Index: >= 0 });

        var fanned = Path.Combine(env.ArtifactRoot, "proxies", "twelve.mp4");
        var single = Path.Combine(env.LogRoot, "single.mp4");
        await MediaCompare.SinglePassAsync(source, single, 120);
        var got = await MediaCompare.StreamsAsync(fanned);
        var want = await MediaCompare.StreamsAsync(single);
        Assert.Equal(want.Select(s => (s.Type, s.Codec)), got.Select(s => (s.Type, s.Codec)));
        for (var i = 0; i < want.Count; i++)
        {
            Assert.InRange(got[i].Duration, want[i].Duration - FrameSeconds, want[i].Duration + FrameSeconds);
            Assert.InRange(got[i].Start, want[i].Start - FrameSeconds, want[i].Start + FrameSeconds);
        }

        Assert.Equal(want[0].Frames, got[0].Frames);
        Assert.InRange(got[1].Start - got[0].Start, want[1].Start - want[0].Start - FrameSeconds, want[1].Start - want[0].Start + FrameSeconds);
        Assert.Equal("", await MediaCompare.DecodeErrorsAsync(fanned));
        Assert.True(await MediaCompare.LowestPsnrAsync(fanned, single) > 35, "a frame differs from the one-pass encode");

        Assert.False(Directory.Exists(Path.Combine(env.ArtifactRoot, WorkFolders.FolderName, job.JobId.ToString("N"))), "the work folder outlived the job");
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM job_checkpoints"));
        foreach (var worker in workers)
        {
            await worker.DisposeAsync();
        }
    }

    [Fact]
    public async Task Cancelling_a_waiting_transcode_cancels_its_segment_jobs_and_parallel_out_of_range_is_refused_naming_it()
    {
        await TestClips.CreateAsync(env.MediaRoot, "twelve.mp4", 12, audio: false);
        await using var worker = await env.StartWorkerAsync(overrides: Settings());
        var bad = new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "transcode",
            Source = "twelve.mp4",
            OutputKey = "proxies/bad.mp4",
            Parameters = new Dictionary<string, string> { ["parallel"] = "0" },
        };
        await env.Store.SubmitAsync(bad, 3, CancellationToken.None);
        var refused = await env.WaitForTerminalAsync(bad.JobId, TimeSpan.FromSeconds(60));
        Assert.Equal((JobStatuses.Failed, ErrorCodes.InvalidRequest), (refused.Status, refused.LastErrorCode));
        Assert.Contains("parameters.parallel", refused.LastErrorMessage, StringComparison.Ordinal);

        // A fan-out to more segment jobs than this one-slot worker runs at once: some stay queued while the parent waits.
        var job = new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "transcode",
            Source = "twelve.mp4",
            OutputKey = "proxies/cancelled.mp4",
            Parameters = new Dictionary<string, string> { ["height"] = "480", ["videoBitrate"] = "2000k", ["parallel"] = "6" },
        };
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        await Eventually.WaitAsync(async () => (await env.JobAsync(job.JobId))!.Status == JobStatuses.Waiting, TimeSpan.FromSeconds(60),
            () => "the transcode never fanned out");

        var outcome = await env.Store.RequestCancelAsync(job.JobId, "test", "tester", CancellationToken.None);
        Assert.Equal((Runtime.Jobs.CancelOutcomeKind.Cancelled, "waiting"), (outcome.Kind, outcome.Where));
        await Eventually.WaitAsync(async () => await env.CountAsync(
                $"SELECT count(*) FROM jobs WHERE parent_job_id = '{job.JobId}' AND status NOT IN ('succeeded', 'cancelled')") == 0,
            TimeSpan.FromSeconds(60), () => "a segment job outlived its cancelled transcode: " + SegmentJobStates(job.JobId));
        Assert.True(await env.CountAsync($"SELECT count(*) FROM jobs WHERE parent_job_id = '{job.JobId}' AND status = 'cancelled'") >= 1);
        Assert.Equal(JobStatuses.Cancelled, (await env.JobAsync(job.JobId))!.Status);
        // The timeline says the transcode was stopped while it waited for its segment jobs, not in the queue.
        var cancelled = Assert.Single(await env.TimelineAsync(job.JobId), e => e.Type == TimelineEventTypes.Cancelled);
        Assert.Equal("waiting", JsonDocument.Parse(cancelled.Data).RootElement.GetProperty("where").GetString());
        Assert.False(File.Exists(Path.Combine(env.ArtifactRoot, "proxies", "cancelled.mp4")));
        await env.AssertAllTimelinesValidAsync();
    }

    // Each segment job's status, attempts, pending cancel and last error, and its timeline's event types: what a failure says.
    private string SegmentJobStates(Guid parent)
    {
        using var command = env.DataSource.CreateCommand(
            "SELECT j.status || ' a' || j.attempt_count || (CASE WHEN j.cancel_requested_at IS NULL THEN '' ELSE ' cancel-pending' END) || ' ' || " +
            "coalesce(j.last_error_code, '') || ' [' || coalesce((SELECT string_agg(e.type, ',' ORDER BY e.seq) FROM job_events e WHERE e.job_id = j.id), '') || ']' " +
            $"FROM jobs j WHERE j.parent_job_id = '{parent}' ORDER BY j.created_at");
        using var reader = command.ExecuteReader();
        var states = new List<string>();
        while (reader.Read())
        {
            states.Add(reader.GetString(0));
        }

        return string.Join("; ", states);
    }

    private Dictionary<string, string?> Settings() => new()
    {
        ["Consumers:Media:SegmentSeconds"] = "2",
        ["Consumers:Media:SegmentFromSeconds"] = "0",
        ["Consumers:Media:SegmentTraceDirectory"] = traces,
        ["Consumers:Flow:ConcurrentJobs"] = "1",
    };

    private static string Worker(Runtime.Timeline.JobEventRecord started)
    {
        using var data = JsonDocument.Parse(started.Data);
        return data.RootElement.GetProperty("worker").GetString()!;
    }
}
