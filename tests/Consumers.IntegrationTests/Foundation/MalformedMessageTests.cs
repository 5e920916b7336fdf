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
    [InlineData("""{"jobId":12345,"stage":"manifest"}""", "Cannot get the value")]
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
        Assert.Equal("fault", faulted.Header("MT-Reason"));
        Assert.False(string.IsNullOrWhiteSpace(faulted.Header("MT-Fault-ExceptionType")));
        var reason = faulted.Header("MT-Fault-ExceptionType") + ": " + faulted.Header("MT-Fault-Message");
        Assert.Contains(expectedReason, reason, StringComparison.Ordinal);
        Assert.Equal(1, await env.CountAsync("SELECT count(*) FROM jobs"));
    }
}
