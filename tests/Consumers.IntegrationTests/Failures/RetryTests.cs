using System.Globalization;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using MassTransit;

namespace Consumers.IntegrationTests.Failures;

/// <summary>Transient failures retry with the policy's backoff until the limit; fatal ones end at once.</summary>
public sealed class RetryTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_stage_that_always_fails_transiently_ends_retries_exhausted_after_exactly_the_configured_attempts()
    {
        using var metrics = new MetricProbe();
        var worker = await env.StartWorkerAsync(overrides: new Dictionary<string, string?>
        {
            ["Consumers:Retry:Default:BaseDelay"] = "00:00:01",
            ["Consumers:Retry:Default:Jitter"] = "0",
        });
        var request = new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "synthetic",
            OutputKey = "flaky.json",
            MaxAttempts = 3,
            Parameters = new Dictionary<string, string> { ["failCode"] = ErrorCodes.Timeout },
        };

        await worker.Get<IBus>().Publish(request);

        var job = await env.WaitForTerminalAsync(request.JobId);
        Assert.Equal(JobStatuses.Failed, job.Status);
        Assert.Equal(ErrorCodes.RetriesExhausted, job.LastErrorCode);
        Assert.Equal(3, job.AttemptCount);
        var timeline = await env.TimelineAsync(request.JobId);
        Assert.Equal(3, timeline.Count(e => e.Type == TimelineEventTypes.Started));
        var retries = timeline.Where(e => e.Type == TimelineEventTypes.RetryScheduled).ToList();
        Assert.Equal(2, retries.Count);
        // Without jitter the delay doubles: 1 s after attempt 1, 2 s after attempt 2.
        for (var i = 0; i < retries.Count; i++)
        {
            var notBefore = DateTimeOffset.Parse(Data(retries[i]).GetProperty("notBefore").GetString()!, CultureInfo.InvariantCulture);
            // notBefore is the worker's clock before the write, occurredAt the database's when the write began: a slow
            // write shortens the gap, so the lower bound leaves more room.
            var delay = (notBefore - retries[i].OccurredAt).TotalSeconds;
            Assert.InRange(delay, Math.Pow(2, i) - 0.5, Math.Pow(2, i) + 0.25);
            var nextStart = timeline.First(e => e.Seq > retries[i].Seq && e.Type == TimelineEventTypes.Started);
            Assert.True(nextStart.OccurredAt >= notBefore.AddMilliseconds(-5), "an attempt started before its backoff had passed");
        }

        var failed = Data(timeline[^1]);
        Assert.Equal(ErrorCodes.Timeout, failed.GetProperty("lastCode").GetString());
        Assert.Equal(2, metrics.Total("retry_attempts"));
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task Per_code_policies_can_retry_without_charging_the_attempt_or_allow_fewer_attempts()
    {
        var worker = await env.StartWorkerAsync(overrides: new Dictionary<string, string?>
        {
            ["Consumers:Retry:Default:BaseDelay"] = "00:00:00.200",
            ["Consumers:Retry:Codes:DEPENDENCY_UNAVAILABLE:BaseDelay"] = "00:00:00.200",
            ["Consumers:Retry:Codes:DEPENDENCY_UNAVAILABLE:CountsAttempt"] = "false",
            ["Consumers:Retry:Codes:TIMEOUT:BaseDelay"] = "00:00:00.200",
            ["Consumers:Retry:Codes:TIMEOUT:MaxAttempts"] = "2",
        });
        // One attempt allowed, but the dependency outage on the first two does not use it up.
        var outage = TestEnvironment.SyntheticJob("outage.json", ("failCode", ErrorCodes.DependencyUnavailable), ("failAttempts", "2")) with { MaxAttempts = 1 };
        // Five allowed by the job, two by its code.
        var slow = TestEnvironment.SyntheticJob("slow.json", ("failCode", ErrorCodes.Timeout)) with { MaxAttempts = 5 };
        await worker.Get<IBus>().Publish(outage);
        await worker.Get<IBus>().Publish(slow);

        var survived = await env.WaitForTerminalAsync(outage.JobId);
        Assert.Equal(JobStatuses.Succeeded, survived.Status);
        Assert.Equal(3, survived.AttemptCount);
        Assert.Equal(2, survived.UnchargedAttempts);
        var retries = (await env.TimelineAsync(outage.JobId)).Where(e => e.Type == TimelineEventTypes.RetryScheduled).ToList();
        Assert.Equal(2, retries.Count);
        Assert.All(retries, r => Assert.Equal("false", Data(r).GetProperty("charged").GetString()));

        var exhausted = await env.WaitForTerminalAsync(slow.JobId);
        Assert.Equal(JobStatuses.Failed, exhausted.Status);
        Assert.Equal(ErrorCodes.RetriesExhausted, exhausted.LastErrorCode);
        Assert.Equal(2, exhausted.AttemptCount);
        Assert.StartsWith("2 attempts failed, 2 allowed", exhausted.LastErrorMessage, StringComparison.Ordinal);
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task A_fatal_failure_ends_the_job_after_one_attempt()
    {
        var worker = await env.StartWorkerAsync();
        var request = new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "synthetic",
            OutputKey = "corrupt.json",
            Parameters = new Dictionary<string, string> { ["failCode"] = ErrorCodes.CorruptMedia },
        };

        await worker.Get<IBus>().Publish(request);

        var job = await env.WaitForTerminalAsync(request.JobId);
        Assert.Equal(ErrorCodes.CorruptMedia, job.LastErrorCode);
        Assert.Equal(1, job.AttemptCount);
        Assert.DoesNotContain(await env.TimelineAsync(request.JobId), e => e.Type == TimelineEventTypes.RetryScheduled);
    }

    [Fact]
    public async Task A_transient_failure_that_clears_succeeds_on_the_next_attempt()
    {
        var worker = await env.StartWorkerAsync(overrides: new Dictionary<string, string?> { ["Consumers:Retry:Default:BaseDelay"] = "00:00:00.5" });
        var request = new JobRequested
        {
            JobId = Guid.NewGuid(),
            Stage = "synthetic",
            OutputKey = "once.json",
            Parameters = new Dictionary<string, string> { ["failCode"] = ErrorCodes.DependencyUnavailable, ["failAttempts"] = "1" },
        };

        await worker.Get<IBus>().Publish(request);

        var job = await env.WaitForTerminalAsync(request.JobId);
        Assert.Equal(JobStatuses.Succeeded, job.Status);
        Assert.Equal(2, job.AttemptCount);
        await env.AssertAllTimelinesValidAsync();
    }

    private static JsonElement Data(Runtime.Timeline.JobEventRecord e) => JsonDocument.Parse(e.Data).RootElement;
}
