using System.Security.Cryptography;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Pipelines;
using Consumers.Testing.Media;

namespace Consumers.IntegrationTests.Pipelines;

/// <summary>Pipelines on the real stack: a media pipeline end to end, refused pipelines, the failure policy, a cancel.</summary>
public sealed class PipelineTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_four_step_media_pipeline_completes_sized_by_its_probe_and_runs_once_when_submitted_twice()
    {
        await TestClips.CreateAsync(env.MediaRoot, "upload.mp4", 6);
        await env.Rabbit.BindToFanoutAsync(env.VirtualHost, ContractNames.PipelineTimelineExchange, "test.pipeline-timeline");
        var worker = await env.StartWorkerAsync();
        var request = PipelineKit.Media("upload.mp4", "uploads/1");
        var submission = worker.Get<PipelineSubmission>();

        Assert.Equal(PipelineSubmitResult.Started, (await submission.SubmitAsync(request, CancellationToken.None)).Result);
        Assert.Equal(PipelineSubmitResult.Duplicate, (await submission.SubmitAsync(request, CancellationToken.None)).Result);
        var pipeline = await env.WaitForPipelineAsync(request.PipelineId);

        Assert.Equal("succeeded", pipeline.Status);
        var steps = await env.StepsAsync(request.PipelineId);
        Assert.All(steps, s => Assert.Equal("succeeded", s.State));
        Assert.Equal(4, await env.CountAsync($"SELECT count(*) FROM jobs WHERE pipeline_id = '{request.PipelineId}'"));
        Assert.Equal(4, await env.CountAsync($"SELECT count(*) FROM jobs WHERE pipeline_id = '{request.PipelineId}' AND status = 'succeeded'"));

        // The probe's duration became the clip duration (and so the deadline) of the steps after it.
        var probe = (await env.JobAsync(steps[0].JobId))!;
        var probed = JsonDocument.Parse(probe.Result!).RootElement.GetProperty("durationSeconds").GetDouble();
        Assert.InRange(probed, 5.5, 6.5);
        var transcode = (await env.JobAsync(steps[3].JobId))!;
        Assert.Equal(probed, transcode.ClipDurationSeconds);
        var timeline = await env.PipelineTimelineAsync(request.PipelineId);
        var dispatched = timeline.Single(e => e.Type == PipelineEventTypes.StepDispatched && e.Step == "transcode");
        Assert.Equal("probe", dispatched.Data("clipFrom"));
        Assert.True(dispatched.Seq > timeline.Single(e => e.Type == PipelineEventTypes.StepSucceeded && e.Step == "probe").Seq);

        // The completion lists the four artifacts with the size and SHA-256 of the files in place.
        var completed = timeline[^1];
        Assert.Equal(PipelineEventTypes.PipelineCompleted, completed.Type);
        var artifacts = JsonDocument.Parse(completed.Data).RootElement.GetProperty("artifacts").EnumerateArray().ToList();
        Assert.Equal(4, artifacts.Count);
        foreach (var artifact in artifacts)
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(env.ArtifactRoot, artifact.GetProperty("key").GetString()!));
            Assert.Equal(bytes.Length, artifact.GetProperty("size").GetInt64());
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), artifact.GetProperty("sha256").GetString());
        }

        // Published in order on consumers.pipeline-timeline, as PipelineTimelineEvent (the jobs' events go to consumers.timeline).
        var published = new List<JsonElement>();
        await Eventually.WaitAsync(async () =>
        {
            foreach (var message in await env.Rabbit.TakeAsync(env.VirtualHost, "test.pipeline-timeline", 200))
            {
                var body = message.Json.GetProperty("message");
                if (body.TryGetProperty("pipelineId", out _))
                {
                    published.Add(body.Clone());
                }
            }

            return published.Any(p => p.GetProperty("type").GetString() == PipelineEventTypes.PipelineCompleted);
        }, TimeSpan.FromSeconds(30), () => $"saw {published.Count} published pipeline events, no pipeline_completed");
        Assert.Equal(timeline.Select(e => e.Seq), published.Select(p => p.GetProperty("sequence").GetInt64()));
        Assert.Equal(4, published[^1].GetProperty("artifacts").GetArrayLength());
        await env.AssertTimelinesValidAsync(request.PipelineId);
    }

    [Fact]
    public async Task A_step_that_fails_for_good_skips_exactly_its_dependents_and_the_others_still_run()
    {
        var worker = await env.StartWorkerAsync();
        var failing = PipelineKit.Synthetic("b", "policy/b.json", 0, "a") with
        {
            Parameters = new Dictionary<string, string> { ["failCode"] = ErrorCodes.CorruptMedia },
        };
        var request = new PipelineRequested
        {
            PipelineId = Guid.NewGuid(),
            Steps =
            [
                PipelineKit.Synthetic("a", "policy/a.json", 100),
                failing,
                PipelineKit.Synthetic("c", "policy/c.json", 100, "b"),
                PipelineKit.Synthetic("d", "policy/d.json", 100, "c", "a"),
                PipelineKit.Synthetic("e", "policy/e.json", 800, "a"),
            ],
        };

        await worker.Get<PipelineSubmission>().SubmitAsync(request, CancellationToken.None);
        var pipeline = await env.WaitForPipelineAsync(request.PipelineId);

        Assert.Equal("failed", pipeline.Status);
        Assert.Equal("b", pipeline.FailedStep);
        Assert.Equal(ErrorCodes.CorruptMedia, pipeline.ErrorCode);
        var states = (await env.StepsAsync(request.PipelineId)).ToDictionary(s => s.Name, s => s.State);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "succeeded", ["b"] = "failed", ["c"] = "skipped", ["d"] = "skipped", ["e"] = "succeeded" }, states);
        Assert.Equal(3, await env.CountAsync($"SELECT count(*) FROM jobs WHERE pipeline_id = '{request.PipelineId}'"));
        var timeline = await env.PipelineTimelineAsync(request.PipelineId);
        Assert.Equal("b", timeline.Single(e => e.Type == PipelineEventTypes.StepSkipped && e.Step == "d").Data("cause"));
        Assert.Equal(PipelineEventTypes.PipelineFailed, timeline[^1].Type);
        Assert.Equal("b", timeline[^1].Data("step"));
        await env.AssertTimelinesValidAsync(request.PipelineId);
    }

    public static TheoryData<string, string, string> InvalidPipelines() => new()
    {
        { "cycle", """[{"name":"a","stage":"synthetic","outputKey":"x/a","dependsOn":["b"]},{"name":"b","stage":"synthetic","outputKey":"x/b","dependsOn":["a"]}]""", "steps.a.dependsOn" },
        { "unknown stage", """[{"name":"a","stage":"teleport","outputKey":"x/a"}]""", "steps.a.stage" },
        { "same output", """[{"name":"a","stage":"synthetic","outputKey":"x/a"},{"name":"b","stage":"synthetic","outputKey":"x/a"}]""", "steps.b.outputKey" },
        { "escaping output", """[{"name":"a","stage":"synthetic","outputKey":"../../etc/passwd"}]""", "steps.a.outputKey" },
        { "unknown dependency", """[{"name":"a","stage":"synthetic","outputKey":"x/a","dependsOn":["zz"]}]""", "steps.a.dependsOn" },
        { "steps a string", "\"probe\"", "steps" },
        { "a step a string", "[\"probe\"]", "steps[0]" },
        { "dependsOn a number", """[{"name":"a","stage":"synthetic","outputKey":"x/a"},{"name":"b","stage":"synthetic","outputKey":"x/b","dependsOn":3}]""", "steps.b.dependsOn" },
        { "dependsOn a string", """[{"name":"a","stage":"synthetic","outputKey":"x/a"},{"name":"b","stage":"synthetic","outputKey":"x/b","dependsOn":"a"}]""", "steps.b.dependsOn" },
        { "parameters with a number", """[{"name":"a","stage":"synthetic","outputKey":"x/a","parameters":{"durationMs":50}}]""", "steps.a.parameters" },
        { "maxAttempts a string", """[{"name":"a","stage":"synthetic","outputKey":"x/a","maxAttempts":"3"}]""", "steps.a.maxAttempts" },
        { "name a number", """[{"name":5,"stage":"synthetic","outputKey":"x/a"}]""", "steps[0].name" },
        { "too many", "[" + string.Join(",", Enumerable.Range(0, 17).Select(i => $$"""{"name":"s{{i}}","stage":"synthetic","outputKey":"x/{{i}}"}""")) + "]", "steps" },
    };

    [Theory]
    [MemberData(nameof(InvalidPipelines))]
    public async Task An_invalid_plain_json_pipeline_fails_at_once_naming_step_and_field_and_runs_nothing(string why, string steps, string field)
    {
        await env.StartWorkerAsync();
        var id = Guid.NewGuid();
        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, ContractNames.PipelineQueue, $$"""{"pipelineId":"{{id}}","source":"","steps":{{steps}}}""");

        var pipeline = await env.WaitForPipelineAsync(id, TimeSpan.FromSeconds(60));

        Assert.Equal("failed", pipeline.Status);
        Assert.Equal(ErrorCodes.InvalidRequest, pipeline.ErrorCode);
        Assert.True(pipeline.ErrorMessage!.StartsWith(field, StringComparison.Ordinal), $"{why}: '{pipeline.ErrorMessage}' does not name {field}");
        var timeline = await env.PipelineTimelineAsync(id);
        Assert.Equal([PipelineEventTypes.PipelineStarted, PipelineEventTypes.PipelineFailed], timeline.Select(e => e.Type));
        Assert.Equal(field, timeline[1].Data("field"));
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM jobs"));
        await env.AssertTimelinesValidAsync(id);
    }

    [Theory]
    [InlineData("""{"pipelineId":42,"steps":[]}""", "pipelineId must be a UUID string, not JSON number")]
    [InlineData("""{"pipelineId":true,"steps":"probe"}""", "pipelineId must be a UUID string, not JSON boolean")]
    [InlineData("""{"steps":"probe"}""", "steps must be an array of step objects, not JSON string, and pipelineId is missing")]
    public async Task A_mistyped_pipeline_without_a_readable_id_goes_to_the_error_queue_with_its_reason(string body, string reason)
    {
        await env.StartWorkerAsync();
        var errorQueue = ContractNames.PipelineQueue + "_error";

        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, ContractNames.PipelineQueue, body);

        QueuedMessage? faulted = null;
        await Eventually.WaitAsync(async () =>
        {
            var taken = await env.Rabbit.TakeAsync(env.VirtualHost, errorQueue, 1);
            faulted = taken.Count > 0 ? taken[0] : null;
            return faulted is not null;
        }, TimeSpan.FromSeconds(30), () => $"nothing reached {errorQueue}");
        Assert.Equal(body, faulted!.Payload);
        Assert.Contains(reason, faulted.Header("MT-Fault-Message"), StringComparison.Ordinal);
        Assert.Contains(ErrorCodes.InvalidRequest, faulted.Header("MT-Fault-Message"), StringComparison.Ordinal);
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM pipelines"));
    }

    [Fact]
    public async Task A_cancel_job_message_naming_a_pipeline_cancels_the_pipeline_as_a_whole()
    {
        var worker = await env.StartWorkerAsync();
        var request = new PipelineRequested
        {
            PipelineId = Guid.NewGuid(),
            Steps = [PipelineKit.Synthetic("slow", "msg-cancel/slow.json", 30_000), PipelineKit.Synthetic("next", "msg-cancel/next.json", 10, "slow")],
        };
        await worker.Get<PipelineSubmission>().SubmitAsync(request, CancellationToken.None);
        var slow = (await env.StepsAsync(request.PipelineId))[0].JobId;
        await Eventually.WaitAsync(async () => (await env.JobAsync(slow))?.Status == JobStatuses.Processing, TimeSpan.FromSeconds(30), () => "the first step never started");

        // A producer's plain-JSON CancelJob whose jobId is the pipeline's id.
        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, ContractNames.CancelJobQueue,
            JsonSerializer.Serialize(new { jobId = request.PipelineId, reason = "upload withdrawn", requestedBy = "uploads-service" }));
        var pipeline = await env.WaitForPipelineAsync(request.PipelineId, TimeSpan.FromSeconds(30));

        Assert.Equal("cancelled", pipeline.Status);
        Assert.Equal("uploads-service", pipeline.CancelBy);
        Assert.Equal("upload withdrawn", pipeline.CancelReason);
        Assert.Equal(JobStatuses.Cancelled, (await env.JobAsync(slow))!.Status);
        Assert.Equal(["cancelled", "cancelled"], (await env.StepsAsync(request.PipelineId)).Select(s => s.State));
        Assert.Equal(1, await env.CountAsync($"SELECT count(*) FROM jobs WHERE pipeline_id = '{request.PipelineId}'"));
        // The audit says who cancelled the pipeline, once, and the step job it stopped for it.
        Assert.Equal(1, await env.CountAsync(
            $"SELECT count(*) FROM operator_actions WHERE action = 'cancel' AND target = '{request.PipelineId}'"));
        Assert.Equal(1, await env.CountAsync(
            $"SELECT count(*) FROM operator_actions WHERE action = 'cancel' AND target = '{request.PipelineId}' AND by = 'uploads-service' " +
            "AND reason = 'upload withdrawn' AND outcome = 'pipeline_requested'"));
        Assert.Equal(1, await env.CountAsync($"SELECT count(*) FROM operator_actions WHERE action = 'cancel' AND target = '{slow}' AND by = 'uploads-service'"));
        await env.AssertTimelinesValidAsync(request.PipelineId);
    }

    [Fact]
    public async Task A_cancelled_pipeline_stops_its_running_step_and_never_dispatches_the_rest()
    {
        var worker = await env.StartWorkerAsync();
        var request = new PipelineRequested
        {
            PipelineId = Guid.NewGuid(),
            Steps = [PipelineKit.Synthetic("slow", "cancel/slow.json", 30_000), PipelineKit.Synthetic("next", "cancel/next.json", 10, "slow")],
        };
        await worker.Get<PipelineSubmission>().SubmitAsync(request, CancellationToken.None);
        var slow = (await env.StepsAsync(request.PipelineId))[0].JobId;
        await Eventually.WaitAsync(async () => (await env.JobAsync(slow))?.Status == JobStatuses.Processing, TimeSpan.FromSeconds(30), () => "the first step never started");

        Assert.Equal(PipelineCancelResult.Requested, await worker.Get<PipelineCancellation>().CancelAsync(request.PipelineId, "wrong upload", "test", CancellationToken.None));
        var pipeline = await env.WaitForPipelineAsync(request.PipelineId, TimeSpan.FromSeconds(30));

        Assert.Equal("cancelled", pipeline.Status);
        Assert.Equal(JobStatuses.Cancelled, (await env.JobAsync(slow))!.Status);
        var states = (await env.StepsAsync(request.PipelineId)).Select(s => s.State);
        Assert.Equal(["cancelled", "cancelled"], states);
        Assert.Equal(1, await env.CountAsync($"SELECT count(*) FROM jobs WHERE pipeline_id = '{request.PipelineId}'"));
        await env.AssertTimelinesValidAsync(request.PipelineId);
    }
}
