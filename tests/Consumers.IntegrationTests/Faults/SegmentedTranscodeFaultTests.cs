using System.Globalization;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.IntegrationTests.Media;
using Consumers.Runtime.Checkpoints;
using Consumers.Testing.Faults;
using Consumers.Testing.Media;

namespace Consumers.IntegrationTests.Faults;

/// <summary>
/// Segmented transcodes on real worker processes killed (SIGKILL) at every phase, frozen (SIGSTOP) and terminated
/// (SIGTERM, a deploy): the job completes once with a valid artifact, and segments recorded before the fault are
/// not encoded again. A 16 s clip in 2 s segments: eight video segments plus the audio (index -1 in the trace).
/// </summary>
public sealed class SegmentedTranscodeFaultTests : IAsyncLifetime
{
    private const int ClipSeconds = 16;
    private const int Segments = 8;
    private static readonly int[] AllPieces = [-1, .. Enumerable.Range(0, Segments)];
    private TestEnvironment env = null!;
    private string traces = "";

    public async Task InitializeAsync()
    {
        env = await TestEnvironment.CreateAsync();
        traces = Path.Combine(env.LogRoot, "segments");
        await TestClips.CreateAsync(env.MediaRoot, "long.mp4", ClipSeconds, size: "640x480");
    }

    public async Task DisposeAsync() => await env.DisposeAsync();

    public static TheoryData<string> Phases => ["first segment", "middle", "join", "between join and commit"];

    [Theory]
    [MemberData(nameof(Phases))]
    public async Task A_worker_killed_mid_transcode_is_resumed_elsewhere_without_encoding_recorded_segments_again(string phase)
    {
        var job = Job();
        // The first attempt waits at the phase's trace line, so the kill lands there and not wherever the encode has got
        // to by then (the eight segments of this clip can all be recorded within a few milliseconds of each other).
        var (step, index) = phase switch
        {
            "first segment" => ("encode", 0),
            "middle" => ("recorded", Segments / 2 - 1),
            "join" => ("join", -1),
            _ => ("joined", -1),
        };
        var hold = index >= 0 ? $"{step} {index}" : step;
        var a = await env.StartWorkerProcessAsync("seg-a", Settings(hold));
        await env.Store.SubmitAsync(job, 5, CancellationToken.None);
        await Eventually.WaitAsync(() => Task.FromResult(Trace(job).Any(l => l.Step == step && (index < 0 || l.Index == index))), TimeSpan.FromSeconds(90),
            () => $"the transcode never reached {phase}", TimeSpan.FromMilliseconds(5));
        await a.KillAsync();
        var artifactAtKill = File.Exists(ArtifactPath(job));
        var before = Trace(job);
        var recordedBefore = before.Where(l => l.Step == "recorded").Select(l => l.Index).ToHashSet();

        await using var b = await env.StartWorkerProcessAsync("seg-b", Settings());
        await FaultChecks.AssertAllSucceededOnceAsync(env, [job.JobId], TimeSpan.FromSeconds(120));

        var trace = Trace(job);
        var story = "trace: " + string.Join(" | ", trace.Select(l => $"{l.Step} a{l.Attempt} #{l.Index}"));
        Assert.False(artifactAtKill, "the kill came after the commit; " + story);
        Assert.Equal(before, trace.Where(l => l.Attempt == 1));
        var later = trace.Where(l => l.Attempt > 1).ToList();
        Assert.True(later.Any(l => l.Step == "start"), "no later attempt started; " + story);
        // Exactly what was not recorded is encoded again: nothing recorded, and every piece that was not.
        var encodedAgain = later.Where(l => l.Step == "encode").Select(l => l.Index).Order().ToList();
        Assert.True(AllPieces.Except(recordedBefore).Order().SequenceEqual(encodedAgain),
            $"recorded before the kill: {string.Join(", ", recordedBefore.Order())}; encoded again: {string.Join(", ", encodedAgain)}; {story}");
        switch (phase)
        {
            case "first segment":
                Assert.Empty(recordedBefore);
                break;
            case "middle":
                Assert.Equal(Enumerable.Range(0, Segments / 2), recordedBefore.Where(i => i >= 0).Order());
                break;
            default:
                Assert.Equal(AllPieces, recordedBefore.Order());
                break;
        }

        await AssertValidArtifactAndNoCheckpointAsync(job);
    }

    [Fact]
    public async Task A_frozen_workers_late_segment_is_never_recorded_or_used()
    {
        var job = Job();
        // The first attempt waits a few seconds after starting segment 2, long enough to be frozen there; thawed, it goes
        // straight on (the wait is over) with segments that closed meanwhile, racing its heartbeat's lease check.
        var a = await env.StartWorkerProcessAsync("seg-frozen", new Dictionary<string, string?>(Settings("encode 2"))
        {
            ["Consumers:Media:SegmentTraceHoldFor"] = "00:00:08",
        });
        await env.Store.SubmitAsync(job, 5, CancellationToken.None);
        await Eventually.WaitAsync(() => Task.FromResult(Trace(job).Any(l => l is { Attempt: 1, Step: "encode", Index: 2 })),
            TimeSpan.FromSeconds(90), () => "the transcode never got going", TimeSpan.FromMilliseconds(5));
        a.Freeze();
        var frozenAt = DateTimeOffset.UtcNow;
        // The freeze can land between a segment's checkpoint and its trace line, so what the frozen attempt kept is read
        // from its checkpoint (after a moment: a statement sent just before the freeze still commits).
        await Task.Delay(TimeSpan.FromSeconds(1));
        var kept = await CheckpointedPiecesAsync(job.JobId);
        var inFlight = Enumerable.Range(0, Segments).First(i => !kept.Contains(i));

        await using var b = await env.StartWorkerProcessAsync("seg-b", Settings());
        // The lease expires, the sweep requeues the job and b resumes it; then the zombie wakes up mid-segment.
        await Eventually.WaitAsync(() => Task.FromResult(Trace(job).Any(l => l.Step == "start" && l.Attempt > 1)), TimeSpan.FromSeconds(90),
            () => "no other attempt started while the worker was frozen");
        a.Thaw();
        await FaultChecks.AssertAllSucceededOnceAsync(env, [job.JobId], TimeSpan.FromSeconds(120));

        var trace = Trace(job);
        // Once thawed, the zombie records nothing it had not already checkpointed before the freeze.
        Assert.All(trace.Where(l => l is { Attempt: 1, Step: "recorded" } && l.At > frozenAt), l => Assert.Contains(l.Index, kept));
        Assert.Contains(trace, l => l.Step == "recorded" && l.Attempt > 1 && l.Index == inFlight);
        // Every piece is recorded once: the frozen attempt's before the freeze, the rest by the next attempt.
        var recordedLater = trace.Where(l => l.Step == "recorded" && l.Attempt > 1).Select(l => l.Index);
        Assert.Equal(AllPieces, kept.Concat(recordedLater).Order());
        await AssertValidArtifactAsync(job);
        // If the zombie moved its late part in after the job finished, only that part is left, for the janitor.
        var folder = Path.Combine(env.ArtifactRoot, WorkFolders.FolderName, job.JobId.ToString("N"));
        if (Directory.Exists(folder))
        {
            Assert.All(Directory.GetFiles(folder), f => Assert.StartsWith("a1-", Path.GetFileName(f), StringComparison.Ordinal));
        }

        await a.DisposeAsync();
    }

    [Fact]
    public async Task A_deploy_stops_the_transcode_at_a_segment_boundary_and_another_worker_continues_from_its_checkpoint()
    {
        var job = Job();
        // Either worker may take the first attempt, which waits after recording segment 1 until the deploy's shutdown
        // ends the wait: it then stops at that boundary, however fast the encoder closed the segments after it.
        var a = await env.StartWorkerProcessAsync("seg-old", Settings("recorded 1"));
        await using var b = await env.StartWorkerProcessAsync("seg-new", Settings("recorded 1"));
        await env.Store.SubmitAsync(job, 5, CancellationToken.None);
        // Whichever worker took it is the one the deploy stops.
        await Eventually.WaitAsync(() => Task.FromResult(Trace(job).Any(l => l is { Attempt: 1, Step: "recorded", Index: 1 })),
            TimeSpan.FromSeconds(90), () => "the transcode never got going");
        var owner = (await env.JobAsync(job.JobId))!.LeaseOwner;
        var (old, next) = owner == b.WorkerId ? (b, a) : (a, b);

        old.Terminate();
        await Eventually.WaitAsync(() => Task.FromResult(old.HasExited), TimeSpan.FromSeconds(60), () => "the old worker did not exit");
        await FaultChecks.AssertAllSucceededOnceAsync(env, [job.JobId], TimeSpan.FromSeconds(120));

        var timeline = await env.TimelineAsync(job.JobId);
        var requeued = Assert.Single(timeline, e => e.Type == TimelineEventTypes.Requeued);
        using (var data = JsonDocument.Parse(requeued.Data))
        {
            Assert.Equal("shutdown", data.RootElement.GetProperty("reason").GetString());
            Assert.Equal("checkpoint", data.RootElement.GetProperty("at").GetString());
        }

        Assert.DoesNotContain(timeline, e => e.Type == TimelineEventTypes.Aborted);
        Assert.Equal(next.WorkerId, (await env.JobAsync(job.JobId))!.LeaseOwner ?? next.WorkerId);
        // Stopped at a boundary, nothing was thrown away: every piece was encoded exactly once, across both workers.
        var encodes = Trace(job).Where(l => l.Step == "encode").Select(l => l.Index).ToList();
        Assert.Equal(AllPieces, encodes.Order());
        Assert.Equal([0, 1], Trace(job).Where(l => l is { Attempt: 1, Step: "recorded", Index: >= 0 }).Select(l => l.Index).Order());
        Assert.True((await env.JobAsync(job.JobId))!.UnchargedAttempts >= 1, "the deploy's requeue was charged");
        await AssertValidArtifactAndNoCheckpointAsync(job);
        await a.DisposeAsync();
    }

    private Dictionary<string, string?> Settings(string? hold = null) => new()
    {
        ["Consumers:Media:SegmentSeconds"] = "2",
        ["Consumers:Media:SegmentFromSeconds"] = "0",
        ["Consumers:Media:SegmentTraceDirectory"] = traces,
        ["Consumers:Media:SegmentTraceHold"] = hold,
    };

    private static JobRequested Job() => new()
    {
        JobId = Guid.NewGuid(),
        Stage = "transcode",
        Source = "long.mp4",
        OutputKey = $"proxies/{Guid.NewGuid():N}.mp4",
        Parameters = new Dictionary<string, string> { ["height"] = "480", ["videoBitrate"] = "2000k" },
    };

    // The pieces in the job's checkpoint: its segment indexes, and -1 for the audio.
    private async Task<List<int>> CheckpointedPiecesAsync(Guid jobId)
    {
        await using var command = env.DataSource.CreateCommand("SELECT state::text FROM job_checkpoints WHERE job_id = @id");
        command.Parameters.AddWithValue("id", jobId);
        if (await command.ExecuteScalarAsync() is not string state)
        {
            return [];
        }

        using var json = JsonDocument.Parse(state);
        var pieces = json.RootElement.GetProperty("segments").EnumerateObject()
            .Select(p => int.Parse(p.Name, CultureInfo.InvariantCulture)).ToList();
        if (json.RootElement.TryGetProperty("audio", out var audio) && audio.ValueKind == JsonValueKind.String)
        {
            pieces.Add(-1);
        }

        return pieces;
    }

    private IReadOnlyList<SegmentTrace> Trace(JobRequested job) => SegmentTrace.Read(traces, job.JobId);

    private string ArtifactPath(JobRequested job) => Path.Combine(env.ArtifactRoot, job.OutputKey);

    private async Task AssertValidArtifactAsync(JobRequested job)
    {
        var path = ArtifactPath(job);
        Assert.Equal("", await MediaCompare.DecodeErrorsAsync(path));
        var streams = await MediaCompare.StreamsAsync(path);
        Assert.Equal(["video", "audio"], streams.Select(s => s.Type));
        Assert.Equal(ClipSeconds * 25, streams[0].Frames);
    }

    private async Task AssertValidArtifactAndNoCheckpointAsync(JobRequested job)
    {
        await AssertValidArtifactAsync(job);
        Assert.False(Directory.Exists(Path.Combine(env.ArtifactRoot, WorkFolders.FolderName, job.JobId.ToString("N"))), "the work folder outlived the job");
        Assert.Equal(0, await env.CountAsync($"SELECT count(*) FROM job_checkpoints WHERE job_id = '{job.JobId}'"));
    }
}
