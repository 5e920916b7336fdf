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
