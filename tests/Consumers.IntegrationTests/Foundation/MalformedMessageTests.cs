using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Foundation;

/// <summary>A body that cannot be a job ends in the error queue with its reason; the consumer goes on.</summary>
public sealed class MalformedMessageTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Theory]
    [InlineData("{this is not json", "Json")]
    [InlineData("""{"stage":"manifest","source":"a.bin","outputKey":"a.json"}""", "jobId is missing")]
    [InlineData("""{"jobId":12345,"stage":"manifest"}""", "jobId must be a UUID string, not JSON number")]
    [InlineData("null", "the body is null, not a JSON object with a jobId")]
    [InlineData(" [1,2]", "the body is an array, not a JSON object with a jobId")]
    public async Task Malformed_body_goes_to_the_error_queue_with_its_reason_and_the_next_job_still_runs(string body, string expectedReason)
    {
        await env.StartWorkerAsync();
        env.CreateMediaFile("good.bin", 100);

        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", body);
        var good = TestEnvironment.ManifestJob("good.bin", "good.json");
        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", System.Text.Json.JsonSerializer.Serialize(good, Runtime.ContractJson.Options));

        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(good.JobId)).Status);

        QueuedMessage? faulted = null;
        await Eventually.WaitAsync(async () =>
        {
            var taken = await env.Rabbit.TakeAsync(env.VirtualHost, "consumers.jobs_error", 1);
            faulted = taken.Count > 0 ? taken[0] : null;
            return faulted is not null;
        }, TimeSpan.FromSeconds(30), () => "nothing reached consumers.jobs_error");

        Assert.Equal(body, faulted!.Payload);
        // Read from the queue itself: the management API's message count lags by its statistics interval.
        Assert.Empty(await env.Rabbit.TakeAsync(env.VirtualHost, "consumers.jobs_error", 10));
        Assert.Equal("fault", faulted.Header("MT-Reason"));
        Assert.False(string.IsNullOrWhiteSpace(faulted.Header("MT-Fault-ExceptionType")));
        var reason = faulted.Header("MT-Fault-ExceptionType") + ": " + faulted.Header("MT-Fault-Message");
        Assert.Contains(expectedReason, reason, StringComparison.Ordinal);
        Assert.Equal(1, await env.CountAsync("SELECT count(*) FROM jobs"));
    }

    [Theory]
    [InlineData("stage", "5", "stage must be a string, not JSON number")]
    [InlineData("maxAttempts", "\"three\"", "maxAttempts must be a whole number, not JSON string")]
    [InlineData("parameters", "{\"height\":240}", "parameters must be an object whose values are strings")]
    [InlineData("clipDurationSeconds", "[]", "clipDurationSeconds must be a number, not JSON array")]
    public async Task A_field_of_the_wrong_type_fails_the_job_it_names_with_INVALID_REQUEST_and_the_field(string field, string json, string expected)
    {
        await env.StartWorkerAsync();
        env.CreateMediaFile("typed.bin", 100);
        var jobId = Guid.NewGuid();
        var fields = new Dictionary<string, string>
        {
            ["jobId"] = $"\"{jobId}\"",
            ["stage"] = "\"manifest\"",
            ["source"] = "\"typed.bin\"",
            ["outputKey"] = "\"typed.json\"",
        };
        fields[field] = json;
        var body = "{" + string.Join(",", fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}";

        await env.Rabbit.PublishToQueueAsync(env.VirtualHost, "consumers.jobs", body);

        var job = await env.WaitForTerminalAsync(jobId);
        Assert.Equal(JobStatuses.Failed, job.Status);
        Assert.Equal(ErrorCodes.InvalidRequest, job.LastErrorCode);
        var failed = (await env.TimelineAsync(jobId)).Last();
        Assert.Equal(TimelineEventTypes.Failed, failed.Type);
        Assert.Equal(field, System.Text.Json.JsonDocument.Parse(failed.Data).RootElement.GetProperty("field").GetString());
        Assert.Contains(expected, job.LastErrorMessage, StringComparison.Ordinal);
        Assert.Equal(0, await env.Rabbit.QueueDepthAsync(env.VirtualHost, "consumers.jobs_error") ?? 0);
        await env.AssertAllTimelinesValidAsync();
    }
}
