using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using MassTransit;

namespace Consumers.IntegrationTests.Failures;

/// <summary>
/// Requests that parse but are wrong end as failed jobs with INVALID_REQUEST and the field at fault, after one
/// attempt, leave no artifact behind, and never stop the worker from running the next good job.
/// </summary>
public sealed class BadInputTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task Each_invalid_request_fails_fast_with_its_code_and_field_and_the_worker_goes_on()
    {
        var worker = await env.StartWorkerAsync();
        env.CreateMediaFile("ok.bin", 1000);
        var outside = Directory.CreateTempSubdirectory("outside-").FullName;
        await File.WriteAllTextAsync(Path.Combine(outside, "secret.bin"), "not for you");
        Directory.CreateSymbolicLink(Path.Combine(env.ArtifactRoot, "escape"), outside);
        File.CreateSymbolicLink(Path.Combine(env.MediaRoot, "innocent.bin"), Path.Combine(outside, "secret.bin"));

        var cases = new (string Field, JobRequested Request)[]
        {
            ("stage", Job("paint", "ok.bin", "a.json")),
            ("outputKey", Job("manifest", "ok.bin", "../escaped.json")),
            ("outputKey", Job("manifest", "ok.bin", "/tmp/absolute.json")),
            ("outputKey", Job("manifest", "ok.bin", "escape/through-link.json")),
            ("outputKey", Job("manifest", "ok.bin", "")),
            ("source", Job("manifest", "/etc/passwd", "b.json")),
            ("source", Job("manifest", "../../../etc/passwd", "c.json")),
            ("source", Job("manifest", "innocent.bin", "d.json")),
            ("source", Job("manifest", "http://example.invalid/clip.mp4", "e.json")),
            ("clipDurationSeconds", Job("manifest", "ok.bin", "f.json") with { ClipDurationSeconds = -3 }),
            ("maxAttempts", Job("manifest", "ok.bin", "g.json") with { MaxAttempts = 0 }),
            ("stage", Job(new string('x', 300), "ok.bin", "h.json")),
        };
        var bus = worker.Get<IBus>();
        foreach (var (_, request) in cases)
        {
            await bus.Publish(request);
        }

        var good = TestEnvironment.ManifestJob("ok.bin", "good.json");
        await bus.Publish(good);

        foreach (var (field, request) in cases)
        {
            var job = await env.WaitForTerminalAsync(request.JobId);
            Assert.Equal(JobStatuses.Failed, job.Status);
            Assert.Equal(ErrorCodes.InvalidRequest, job.LastErrorCode);
            Assert.Equal(1, job.AttemptCount);
            var failed = (await env.TimelineAsync(request.JobId)).Last();
            using var data = JsonDocument.Parse(failed.Data);
            Assert.Equal(TimelineEventTypes.Failed, failed.Type);
            Assert.Equal(field, data.RootElement.GetProperty("field").GetString());
        }

        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(good.JobId)).Status);
        // Nothing was written outside the artifact root, and only the good job's artifact inside it.
        Assert.Equal(["secret.bin"], Directory.EnumerateFiles(outside).Select(Path.GetFileName));
        Assert.False(File.Exists("/tmp/absolute.json"));
        Assert.Equal(["good.json"], Directory.EnumerateFiles(env.ArtifactRoot, "*", SearchOption.TopDirectoryOnly).Select(Path.GetFileName));
        await env.AssertAllTimelinesValidAsync();
        Directory.Delete(outside, recursive: true);
    }

    [Fact]
    public async Task Text_the_database_cannot_hold_becomes_a_failed_job_naming_the_field_without_reaching_sql_or_the_error_queue()
    {
        var worker = await env.StartWorkerAsync();
        env.CreateMediaFile("ok.bin", 1000);
        // Plain JSON as any producer may send it; \u0000 is valid JSON, but PostgreSQL text and jsonb refuse it. (A lone
        // surrogate escape such as \ud800 never gets this far: the deserializer refuses the message.)
        var cases = new (string Field, Guid JobId, string Json)[]
        {
            ("source", Guid.NewGuid(), """{"stage":"manifest","source":"ok\u0000.bin","outputKey":"nul-source.json"}"""),
            ("outputKey", Guid.NewGuid(), """{"stage":"manifest","source":"ok.bin","outputKey":"nul\u0000key.json"}"""),
            ("parameters.chunkBytes", Guid.NewGuid(), """{"stage":"manifest","source":"ok.bin","outputKey":"nul-param.json","parameters":{"chunkBytes":"4096\u0000"}}"""),
            ("parameters", Guid.NewGuid(), """{"stage":"manifest","source":"ok.bin","outputKey":"nul-name.json","parameters":{"chunk\u0000Bytes":"4096"}}"""),
        };
        foreach (var (_, jobId, json) in cases)
        {
            await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", json.Replace("{\"stage\"", $"{{\"jobId\":\"{jobId}\",\"stage\"", StringComparison.Ordinal));
        }

        var good = TestEnvironment.ManifestJob("ok.bin", "good.json");
        await worker.Get<IBus>().Publish(good);

        foreach (var (field, jobId, _) in cases)
        {
            var job = await env.WaitForTerminalAsync(jobId);
            Assert.Equal(JobStatuses.Failed, job.Status);
            Assert.Equal(ErrorCodes.InvalidRequest, job.LastErrorCode);
            Assert.Equal(0, job.AttemptCount);
            Assert.DoesNotContain('\0', job.Source + job.OutputKey + job.Request);
            var timeline = await env.TimelineAsync(jobId);
            Assert.Equal([TimelineEventTypes.Requested, TimelineEventTypes.Failed], timeline.Select(e => e.Type));
            using var data = JsonDocument.Parse(timeline[^1].Data);
            Assert.Equal(field, data.RootElement.GetProperty("field").GetString());
            Assert.Contains("NUL character", data.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(good.JobId)).Status);
        // The same id sent again is a duplicate of the failed job, not a second failure.
        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs",
            $$"""{"jobId":"{{cases[0].JobId}}","stage":"manifest","source":"ok\u0000.bin","outputKey":"nul-source.json"}""");
        var again = TestEnvironment.ManifestJob("ok.bin", "good-again.json");
        await worker.Get<IBus>().Publish(again);
        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(again.JobId)).Status);
        Assert.Equal(2, (await env.TimelineAsync(cases[0].JobId)).Count);
        Assert.Null(await env.Rabbit.QueueAsync(env.VirtualHost, "consumers.jobs_error"));
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task Submitting_text_the_database_cannot_hold_is_refused_before_sql_naming_the_field()
    {
        var request = TestEnvironment.SyntheticJob("fine.json", ("durationMs", "1\0"));

        var error = await Assert.ThrowsAsync<Runtime.Failures.JobFailureException>(() => env.Store.SubmitAsync(request, 3, CancellationToken.None));

        Assert.Equal(ErrorCodes.InvalidRequest, error.Code);
        Assert.Equal("parameters.durationMs", error.Field);
        Assert.Null(await env.JobAsync(request.JobId));
    }

    [Fact]
    public async Task Over_long_names_private_folders_and_out_of_range_parameters_are_invalid_requests_not_retried()
    {
        var worker = await env.StartWorkerAsync();
        env.CreateMediaFile("ok.bin", 1000);
        var cases = new (string Field, JobRequested Request)[]
        {
            ("outputKey", Job("manifest", "ok.bin", "long/" + new string('n', 256) + ".json")),
            ("outputKey", Job("manifest", "ok.bin", ".staging/x.json")),
            ("outputKey", Job("manifest", "ok.bin", ".quarantine/x.json")),
            ("parameters.chunkBytes", Job("manifest", "ok.bin", "chunky.json") with { Parameters = new Dictionary<string, string> { ["chunkBytes"] = "2000000000" } }),
            ("parameters.durationMs", Job("synthetic", "", "forever.json") with { Parameters = new Dictionary<string, string> { ["durationMs"] = "2000000000" } }),
        };
        var bus = worker.Get<IBus>();
        foreach (var (_, request) in cases)
        {
            await bus.Publish(request);
        }

        foreach (var (field, request) in cases)
        {
            var job = await env.WaitForTerminalAsync(request.JobId);
            Assert.Equal(JobStatuses.Failed, job.Status);
            Assert.Equal(ErrorCodes.InvalidRequest, job.LastErrorCode);
            Assert.Equal(1, job.AttemptCount);
            using var data = JsonDocument.Parse((await env.TimelineAsync(request.JobId)).Last().Data);
            Assert.Equal(field, data.RootElement.GetProperty("field").GetString());
        }

        // The store's private folders hold nothing a request put there.
        Assert.False(File.Exists(Path.Combine(env.ArtifactRoot, ".staging", "x.json")));
        Assert.False(File.Exists(Path.Combine(env.ArtifactRoot, ".quarantine", "x.json")));
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM job_events WHERE type = 'retry_scheduled'"));
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task A_missing_source_is_a_fatal_SOURCE_NOT_FOUND_after_one_attempt()
    {
        var worker = await env.StartWorkerAsync();
        var request = TestEnvironment.ManifestJob("not-there.bin", "x.json");

        await worker.Get<IBus>().Publish(request);

        var job = await env.WaitForTerminalAsync(request.JobId);
        Assert.Equal(JobStatuses.Failed, job.Status);
        Assert.Equal(ErrorCodes.SourceNotFound, job.LastErrorCode);
        Assert.Equal(1, job.AttemptCount);
    }

    private static JobRequested Job(string stage, string source, string outputKey) =>
        new() { JobId = Guid.NewGuid(), Stage = stage, Source = source, OutputKey = outputKey };
}
