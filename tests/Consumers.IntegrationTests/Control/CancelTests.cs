using System.Diagnostics;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Timeline;
using Consumers.Testing.Media;
using MassTransit;

namespace Consumers.IntegrationTests.Control;

/// <summary>
/// Cancel on the real stack: a queued job ends at once, a running synthetic job and a running transcode are stopped
/// by their worker (ffmpeg gone, scratch removed, no artifact), and nothing redelivered afterwards runs the job again.
/// </summary>
public sealed class CancelTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_queued_job_is_cancelled_at_once_by_the_cli_and_its_queued_message_never_runs_it()
    {
        var job = TestEnvironment.SyntheticJob("out/queued.json");
        Assert.True(await env.Store.SubmitAsync(job, 3, CancellationToken.None));

        var (exit, output, error) = await Cli.RunAsync(env, "cancel", job.JobId.ToString(), "--reason", "wrong clip", "--by", "alice");

        Assert.True(exit == 0, output + error);
        var row = await env.JobAsync(job.JobId);
        Assert.Equal(JobStatuses.Cancelled, row!.Status);
        var cancelled = (await env.TimelineAsync(job.JobId))[^1];
        AssertCancelled(cancelled, "wrong clip", "alice", "queued");
        Assert.Equal(1, await env.CountAsync("SELECT count(*) FROM operator_actions WHERE action = 'cancel' AND by = 'alice' AND outcome = 'cancelled'"));

        // The worker's relay now sends the JobRequested that was queued with the job, and we send another copy.
        var worker = await env.StartWorkerAsync();
        await worker.Get<IBus>().Publish(job);
        await Eventually.WaitAsync(async () => await env.CountAsync("SELECT count(*) FROM outbox_messages") == 0
                                               && await env.Rabbit.QueueDepthAsync(env.VirtualHost, ContractNames.JobQueue) == 0,
            TimeSpan.FromSeconds(30), () => "the deliveries were not consumed");
        await Task.Delay(500);
        var timeline = await env.TimelineAsync(job.JobId);
        Assert.DoesNotContain(timeline, e => e.Type == TimelineEventTypes.Started);
        Assert.Equal(TimelineEventTypes.Cancelled, timeline[^1].Type);
        Assert.False(File.Exists(Path.Combine(env.ArtifactRoot, "out", "queued.json")));
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task A_running_synthetic_job_is_stopped_by_a_plain_json_cancel_message_and_a_redelivery_does_not_run_it()
    {
        var worker = await env.StartWorkerAsync();
        var job = TestEnvironment.SyntheticJob("out/long.json", ("durationMs", "120000"));
        await worker.Get<IBus>().Publish(job);
        await Eventually.WaitAsync(async () => (await env.JobAsync(job.JobId))?.Status == JobStatuses.Processing,
            TimeSpan.FromSeconds(30), () => "the job never started");
        var scratch = Path.Combine(env.ScratchRoot, job.JobId.ToString("N"), "1");
        await Eventually.WaitAsync(() => Task.FromResult(Directory.Exists(scratch)), TimeSpan.FromSeconds(10), () => "no scratch folder");

        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, ContractNames.CancelJobQueue,
            JsonSerializer.Serialize(new { jobId = job.JobId, reason = "customer withdrew", requestedBy = "billing-service" }));

        var row = await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(30));
        Assert.Equal(JobStatuses.Cancelled, row.Status);
        AssertCancelled((await env.TimelineAsync(job.JobId))[^1], "customer withdrew", "billing-service", "running");
        // The folder goes right after the cancelled write commits, not with it.
        await Eventually.WaitAsync(() => Task.FromResult(!Directory.Exists(scratch)), TimeSpan.FromSeconds(10),
            () => "the cancelled attempt's scratch is still there");

        await worker.Get<IBus>().Publish(job);
        await Eventually.WaitAsync(async () => await env.Rabbit.QueueDepthAsync(env.VirtualHost, ContractNames.JobQueue) == 0,
            TimeSpan.FromSeconds(30), () => "the redelivery was not consumed");
        await Task.Delay(500);
        var timeline = await env.TimelineAsync(job.JobId);
        Assert.Single(timeline, e => e.Type == TimelineEventTypes.Started);
        Assert.Equal(TimelineEventTypes.Cancelled, timeline[^1].Type);
        Assert.False(File.Exists(Path.Combine(env.ArtifactRoot, "out", "long.json")));
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task A_running_transcode_loses_its_ffmpeg_within_two_seconds_and_leaves_no_artifact()
    {
        await TestClips.CreateAsync(env.MediaRoot, "long.mp4", 90, size: "640x480");
        await using var worker = await env.StartWorkerProcessAsync("transcoder");
        var job = new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "transcode",
            Source = "long.mp4",
            OutputKey = "proxies/long.mp4",
            Parameters = new Dictionary<string, string> { ["height"] = "480", ["videoBitrate"] = "2000k" },
        };
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        await Eventually.WaitAsync(() => Task.FromResult(FfmpegUnder(env.ScratchRoot).Count > 0), TimeSpan.FromSeconds(60), () => "the transcode never started");

        var (exit, output, error) = await Cli.RunAsync(env, "cancel", job.JobId.ToString(), "--reason", "wrong settings", "--wait", "0");
        var asked = Stopwatch.StartNew();
        Assert.True(exit == 0, output + error);
        await Eventually.WaitAsync(() => Task.FromResult(FfmpegUnder(env.ScratchRoot).Count == 0), TimeSpan.FromSeconds(10), () => "ffmpeg still runs");
        var gone = asked.Elapsed;

        var row = await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(30));
        Assert.Equal(JobStatuses.Cancelled, row.Status);
        var cancelled = (await env.TimelineAsync(job.JobId))[^1];
        AssertCancelled(cancelled, "wrong settings", Environment.UserName, "running");
        // Timed by the database's clock, as the worker writes `cancelled` only after ffmpeg has exited: this process's
        // polling of /proc can itself be late on a busy machine.
        var stopped = cancelled.OccurredAt - row.CancelRequestedAt!.Value;
        Assert.True(stopped < TimeSpan.FromSeconds(2),
            $"the job was cancelled {stopped.TotalSeconds:F2}s after the request was recorded (ffmpeg seen gone {gone.TotalSeconds:F2}s after the CLI returned)");
        Assert.Empty(Directory.EnumerateFiles(env.ArtifactRoot, "*", SearchOption.AllDirectories));
        // The folder goes right after the cancelled write commits, not with it.
        await Eventually.WaitAsync(() => Task.FromResult(!Directory.Exists(Path.Combine(env.ScratchRoot, job.JobId.ToString("N"), "1"))),
            TimeSpan.FromSeconds(10), () => "the cancelled attempt's scratch is still there");
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task A_cancel_that_waits_on_an_acquire_of_the_queued_job_asks_the_running_attempt_instead_of_ending_the_row()
    {
        var job = TestEnvironment.SyntheticJob("out/contended.json");
        Assert.True(await env.Store.SubmitAsync(job, 3, CancellationToken.None));

        // An acquire holds the queued row, uncommitted, while the cancel reads it as queued and waits for the lock.
        await using var acquirer = await env.DataSource.OpenConnectionAsync();
        await using var acquiring = await acquirer.BeginTransactionAsync();
        await using (var take = new Npgsql.NpgsqlCommand(
            $"UPDATE jobs SET status = 'processing', lease_owner = 'other', lease_token = lease_token + 1, attempt_count = attempt_count + 1 WHERE id = '{job.JobId}'",
            acquirer, acquiring))
        {
            Assert.Equal(1, await take.ExecuteNonQueryAsync());
        }

        var cancel = env.Store.RequestCancelAsync(job.JobId, "changed my mind", "alice", CancellationToken.None);
        await Eventually.WaitAsync(async () => await env.CountAsync("SELECT count(*) FROM pg_locks WHERE NOT granted") > 0,
            TimeSpan.FromSeconds(10), () => "the cancel never waited for the acquire's lock");
        await acquiring.CommitAsync();

        // The row it read as queued is running now: the request is recorded for the attempt, the row is not ended under it.
        var outcome = await cancel;
        Assert.Equal((CancelOutcomeKind.Requested, JobStatuses.Processing), (outcome.Kind, outcome.Status));
        var row = (await env.JobAsync(job.JobId))!;
        Assert.Equal((JobStatuses.Processing, "other"), (row.Status, row.LeaseOwner));
        Assert.NotNull(row.CancelRequestedAt);
        Assert.DoesNotContain(await env.TimelineAsync(job.JobId), e => e.Type == TimelineEventTypes.Cancelled);

        // A second cancel of a job already cancelled while queued changes nothing.
        var queued = TestEnvironment.SyntheticJob("out/twice.json");
        Assert.True(await env.Store.SubmitAsync(queued, 3, CancellationToken.None));
        var both = await Task.WhenAll(
            env.Store.RequestCancelAsync(queued.JobId, "one", "alice", CancellationToken.None),
            env.Store.RequestCancelAsync(queued.JobId, "two", "bob", CancellationToken.None));
        Assert.Single(both, o => o.Kind == CancelOutcomeKind.Cancelled);
        Assert.Single(await env.TimelineAsync(queued.JobId), e => e.Type == TimelineEventTypes.Cancelled);
    }

    [Fact]
    public async Task A_cancel_that_crosses_a_retry_ends_the_job_at_its_next_acquire_instead_of_running_it()
    {
        var job = TestEnvironment.SyntheticJob("out/raced.json");
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        var settings = new AcquireSettings("racer", 30, 600, 3);
        var first = await env.Store.AcquireAsync(job, settings, CancellationToken.None);
        Assert.Equal(AcquireOutcomeKind.Acquired, first.Kind);

        Assert.Equal(CancelOutcomeKind.Requested, (await env.Store.RequestCancelAsync(job.JobId, "stop", "bob", CancellationToken.None)).Kind);
        // The attempt had failed transiently just then and writes its retry, due at once: the row is queued with the request on it.
        Assert.True(await env.Store.ScheduleRetryAsync(first.Lease!, "TIMEOUT", "slow", DateTimeOffset.UtcNow.AddSeconds(-1), true,
            [new TimelineEntry(TimelineEventTypes.RetryScheduled, new Dictionary<string, string> { ["code"] = "TIMEOUT" }, first.Lease!.Attempt)],
            CancellationToken.None));

        var second = await env.Store.AcquireAsync(job, settings, CancellationToken.None);

        Assert.Equal(AcquireOutcomeKind.AlreadyFinished, second.Kind);
        Assert.Equal(JobStatuses.Cancelled, (await env.JobAsync(job.JobId))!.Status);
        var timeline = await env.TimelineAsync(job.JobId);
        Assert.Single(timeline, e => e.Type == TimelineEventTypes.Started);
        AssertCancelled(timeline[^1], "stop", "bob", "queued");
        await env.AssertAllTimelinesValidAsync();
    }

    private static void AssertCancelled(JobEventRecord e, string reason, string by, string where)
    {
        Assert.Equal(TimelineEventTypes.Cancelled, e.Type);
        var data = JsonDocument.Parse(e.Data).RootElement;
        Assert.Equal(reason, data.GetProperty("reason").GetString());
        Assert.Equal(by, data.GetProperty("by").GetString());
        Assert.Equal(where, data.GetProperty("where").GetString());
    }

    private static List<int> FfmpegUnder(string folder) =>
        [.. Process.GetProcessesByName("ffmpeg").Where(p => CommandLine(p.Id).Contains(folder, StringComparison.Ordinal)).Select(p => p.Id)];

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
    }
}
