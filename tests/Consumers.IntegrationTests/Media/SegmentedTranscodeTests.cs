using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Checkpoints;
using Consumers.Runtime.Jobs;
using Consumers.Testing.Faults;
using Consumers.Testing.Media;
using MassTransit;

namespace Consumers.IntegrationTests.Media;

/// <summary>
/// The segmented transcode against a one-pass encode of the same clip, and the checkpoint store's fence, on the real
/// database. Segments of 2 s keep the clips short.
/// </summary>
public sealed class SegmentedTranscodeTests : IAsyncLifetime
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

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_segmented_transcode_has_the_streams_duration_sync_and_pictures_of_a_single_pass_one_and_leaves_no_checkpoint(bool audio)
    {
        // 7 s in 2 s segments: three whole ones and a short last one.
        var source = await TestClips.CreateAsync(env.MediaRoot, "seven.mp4", 7, audio: audio);
        var worker = await env.StartWorkerAsync(overrides: new Dictionary<string, string?>
        {
            ["Consumers:Media:SegmentSeconds"] = "2",
            ["Consumers:Media:SegmentFromSeconds"] = "0",
            ["Consumers:Media:SegmentTraceDirectory"] = traces,
        });
        var job = new JobRequested { JobId = Guid.NewGuid(), Stage = "transcode", Source = "seven.mp4", OutputKey = "proxies/seven.mp4", Parameters = new Dictionary<string, string> { ["height"] = "120" } };

        await worker.Get<IBus>().Publish(job);
        var finished = await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(90));

        Assert.True(finished.Status == JobStatuses.Succeeded, $"{finished.Status}: {finished.LastErrorCode} {finished.LastErrorMessage}");
        var segmented = Path.Combine(env.ArtifactRoot, "proxies", "seven.mp4");
        var single = Path.Combine(env.LogRoot, "single.mp4");
        await MediaCompare.SinglePassAsync(source, single, 120);
        var got = await MediaCompare.StreamsAsync(segmented);
        var want = await MediaCompare.StreamsAsync(single);
        Assert.Equal(want.Select(s => (s.Type, s.Codec)), got.Select(s => (s.Type, s.Codec)));
        for (var i = 0; i < want.Count; i++)
        {
            Assert.InRange(got[i].Duration, want[i].Duration - FrameSeconds, want[i].Duration + FrameSeconds);
            Assert.InRange(got[i].Start, want[i].Start - FrameSeconds, want[i].Start + FrameSeconds);
        }

        Assert.Equal(want[0].Frames, got[0].Frames);
        if (audio)
        {
            // Audio against video, in each file: the same offset within one frame.
            Assert.InRange(got[1].Start - got[0].Start, want[1].Start - want[0].Start - FrameSeconds, want[1].Start - want[0].Start + FrameSeconds);
        }

        Assert.Equal("", await MediaCompare.DecodeErrorsAsync(segmented));
        // Frame for frame the same pictures (a frame lost or doubled at a cut drops this to about 26 dB on testsrc).
        Assert.True(await MediaCompare.LowestPsnrAsync(segmented, single) > 35, "a frame differs from the one-pass encode");

        var trace = SegmentTrace.Read(traces, job.JobId);
        Assert.Equal([0, 1, 2, 3], trace.Where(t => t is { Step: "recorded", Index: >= 0 }).Select(t => t.Index).Order());
        Assert.False(Directory.Exists(Path.Combine(env.ArtifactRoot, WorkFolders.FolderName, job.JobId.ToString("N"))), "the work folder outlived the job");
        Assert.Equal(0, await env.CountAsync($"SELECT count(*) FROM job_checkpoints WHERE job_id = '{job.JobId}'"));
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task A_checkpoint_is_written_only_under_the_current_lease_and_is_cleared_once_the_job_finished()
    {
        var checkpoints = new CheckpointStore(env.DataSource);
        var job = TestEnvironment.SyntheticJob("cp/one.json");
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        var settings = new AcquireSettings("test", 30, 600, 3);
        var first = (await env.Store.AcquireAsync(job, settings, CancellationToken.None)).Lease!;
        CheckpointPart[] parts = [new("a1-seg-00000.mp4", 10, new string('a', 64))];

        Assert.True(await checkpoints.SaveAsync(first, "{\"n\":1}", parts, CancellationToken.None));
        Assert.True(await env.Store.RequeueAsync(first, chargeAttempt: false, [], CancellationToken.None));
        var second = (await env.Store.AcquireAsync(job, settings, CancellationToken.None)).Lease!;

        // The first attempt is a zombie now: its write changes nothing.
        Assert.False(await checkpoints.SaveAsync(first, "{\"n\":99}", [], CancellationToken.None));
        var loaded = await checkpoints.LoadAsync(job.JobId, CancellationToken.None);
        Assert.Equal((1, 1), (loaded!.Value.Attempt, loaded.Value.Saves));
        Assert.Equal(parts, loaded.Value.Parts);

        Assert.True(await checkpoints.SaveAsync(second, "{\"n\":2}", [], CancellationToken.None));
        await checkpoints.ClearFinishedAsync(job.JobId, CancellationToken.None);
        Assert.NotNull(await checkpoints.LoadAsync(job.JobId, CancellationToken.None));

        Assert.True(await env.Store.FailAsync(second, ErrorCodes.Internal, "done", [], CancellationToken.None));
        await checkpoints.ClearFinishedAsync(job.JobId, CancellationToken.None);
        Assert.Null(await checkpoints.LoadAsync(job.JobId, CancellationToken.None));
    }
}
