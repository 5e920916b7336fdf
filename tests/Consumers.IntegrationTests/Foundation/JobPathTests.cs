using System.Security.Cryptography;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using MassTransit;

namespace Consumers.IntegrationTests.Foundation;

/// <summary>The whole path on the real stack: publish, consume, acquire, stage, commit, timeline, outbox, broker.</summary>
public sealed class JobPathTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task Published_job_succeeds_with_its_artifact_and_an_ordered_timeline_in_the_database_and_on_the_broker()
    {
        var capture = await TimelineCapture.BindAsync(env);
        var worker = await env.StartWorkerAsync();
        var source = env.CreateMediaFile("clips/a.bin", 300 * 1024 + 17);
        var request = TestEnvironment.ManifestJob("clips/a.bin", "out/a/manifest.json");

        await worker.Get<IBus>().Publish(request);

        var job = await env.WaitForTerminalAsync(request.JobId);
        Assert.Equal(JobStatuses.Succeeded, job.Status);
        Assert.Equal(1, job.AttemptCount);

        // The artifact is where the key says, whole, and what the row records.
        var artifactPath = Path.Combine(env.ArtifactRoot, "out", "a", "manifest.json");
        var artifactBytes = await File.ReadAllBytesAsync(artifactPath);
        Assert.Equal(job.ArtifactSize, artifactBytes.LongLength);
        Assert.Equal(job.ArtifactSha256, Convert.ToHexStringLower(SHA256.HashData(artifactBytes)));
        using var manifest = JsonDocument.Parse(artifactBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(source))), manifest.RootElement.GetProperty("sha256").GetString());
        Assert.Equal(new FileInfo(source).Length, manifest.RootElement.GetProperty("size").GetInt64());

        var timeline = await env.TimelineAsync(request.JobId);
        Assert.Equal([TimelineEventTypes.Requested, TimelineEventTypes.Started, TimelineEventTypes.Completed], timeline.Select(e => e.Type));
        Assert.Equal([1L, 2L, 3L], timeline.Select(e => e.Seq));
        Assert.Equal([0, 1, 1], timeline.Select(e => e.Attempt));

        var published = await capture.WaitForAsync(request.JobId, 3);
        Assert.Equal(timeline.Select(e => (e.Seq, e.Type)), published.Select(e => (e.Sequence, e.Type)));
        Assert.Equal(3, published.Select(e => e.MessageId).Distinct().Count());
        Assert.Equal(job.ArtifactSha256, published[2].Data.GetProperty("sha256").GetString());

        // Everything queued in the outbox was published and removed.
        await Eventually.WaitAsync(async () => await env.CountAsync("SELECT count(*) FROM outbox_messages") == 0,
            TimeSpan.FromSeconds(30), () => "outbox not drained");
        Assert.Equal(1, await env.CountAsync("SELECT count(*) FROM job_events WHERE type = 'started'"));
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task Plain_json_published_by_hand_to_the_queue_is_accepted()
    {
        await env.StartWorkerAsync();
        env.CreateMediaFile("plain.bin", 4096);
        var jobId = Guid.NewGuid();
        // What a producer in another language (or an operator in the management UI) sends: no envelope, any case.
        var body = "{\"JobId\":\"" + jobId + "\",\"stage\":\"manifest\",\"source\":\"plain.bin\"," +
                   "\"outputKey\":\"plain/manifest.json\",\"parameters\":{\"chunkBytes\":\"1024\"}}";

        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", body);

        var job = await env.WaitForTerminalAsync(jobId);
        Assert.Equal(JobStatuses.Succeeded, job.Status);
        using var manifest = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(env.ArtifactRoot, "plain", "manifest.json")));
        Assert.Equal(4, manifest.RootElement.GetProperty("chunks").GetArrayLength());
    }

    [Fact]
    public async Task Submitted_job_is_dispatched_through_the_outbox()
    {
        await env.StartWorkerAsync();
        env.CreateMediaFile("submitted.bin", 1000);
        var request = TestEnvironment.ManifestJob("submitted.bin", "submitted.json");

        Assert.True(await env.Store.SubmitAsync(request, 3, CancellationToken.None));
        Assert.False(await env.Store.SubmitAsync(request, 3, CancellationToken.None));

        var job = await env.WaitForTerminalAsync(request.JobId);
        Assert.Equal(JobStatuses.Succeeded, job.Status);
        var timeline = await env.TimelineAsync(request.JobId);
        Assert.Equal([TimelineEventTypes.Requested, TimelineEventTypes.Started, TimelineEventTypes.Completed], timeline.Select(e => e.Type));
    }
}
