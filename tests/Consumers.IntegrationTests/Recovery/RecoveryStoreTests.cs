using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Messaging;
using Consumers.Runtime.Recovery;

namespace Consumers.IntegrationTests.Recovery;

/// <summary>The sweep's statements against the real database, driven directly (no broker needed).</summary>
public sealed class RecoveryStoreTests : IAsyncLifetime
{
    private TestEnvironment env = null!;
    private RecoveryStore store = null!;
    private readonly RecoveryOptions options = new();

    public async Task InitializeAsync()
    {
        env = await TestEnvironment.CreateAsync();
        store = new RecoveryStore(env.DataSource, new JobQueueName(new RabbitMqOptions().JobQueue));
    }

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_stale_attempt_is_requeued_with_an_event_and_a_fresh_request()
    {
        var job = await AcquireAsync(maxAttempts: 3);
        await AgeHeartbeatAsync(job.JobId);

        var recovered = await store.RecoverStaleAsync(options, 1, dryRun: false, CancellationToken.None);

        Assert.Equal(new RecoveredJob(job.JobId, "requeued_stale", "w1"), Assert.Single(recovered));
        var row = await env.JobAsync(job.JobId);
        Assert.Equal(JobStatuses.Queued, row!.Status);
        Assert.Equal(1, row.LeaseExpiryCount);
        var last = (await env.TimelineAsync(job.JobId)).Last();
        Assert.Equal(TimelineEventTypes.Requeued, last.Type);
        Assert.Equal("stale", JsonDocument.Parse(last.Data).RootElement.GetProperty("reason").GetString());
        Assert.Equal(1, await env.CountAsync($"SELECT count(*) FROM outbox_messages WHERE message_type = 'JobRequested' AND job_id = '{job.JobId}' AND destination = 'consumers.jobs'"));
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task A_fresh_heartbeat_is_left_alone()
    {
        var job = await AcquireAsync(maxAttempts: 3);

        Assert.Empty(await store.RecoverStaleAsync(options, 1, dryRun: false, CancellationToken.None));
        Assert.Equal(JobStatuses.Processing, (await env.JobAsync(job.JobId))!.Status);
    }

    [Fact]
    public async Task A_first_lease_expiry_is_not_charged_so_a_job_with_one_attempt_is_requeued_not_failed()
    {
        // The attempt ran beside other jobs: its worker may have been killed by one of them.
        var job = await AcquireAsync(maxAttempts: 1);
        await AgeHeartbeatAsync(job.JobId);

        Assert.Equal("requeued_stale", Assert.Single(await store.RecoverStaleAsync(options, 1, dryRun: false, CancellationToken.None)).Outcome);

        var row = await env.JobAsync(job.JobId);
        Assert.Equal(JobStatuses.Queued, row!.Status);
        Assert.Equal(1, row.UnchargedAttempts);
        Assert.Equal(1, row.LeaseExpiryCount);
        // Now a suspect: only an acquire that runs it alone may take it.
        var request = NewRequest(1) with { JobId = job.JobId };
        Assert.Equal(AcquireOutcomeKind.Suspect, (await env.Store.AcquireAsync(request, Settings(), CancellationToken.None)).Kind);
        Assert.Equal(JobStatuses.Queued, (await env.JobAsync(job.JobId))!.Status);
        Assert.Equal(AcquireOutcomeKind.Acquired, (await env.Store.AcquireAsync(request, Settings() with { RunsAlone = true }, CancellationToken.None)).Kind);
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task A_suspect_that_dies_again_with_no_attempts_left_fails_as_retries_exhausted()
    {
        var request = NewRequest(maxAttempts: 1);
        var outcomes = new List<string>();
        for (var round = 1; round <= 2; round++)
        {
            Assert.Equal(AcquireOutcomeKind.Acquired, (await env.Store.AcquireAsync(request, Settings() with { RunsAlone = round > 1 }, CancellationToken.None)).Kind);
            await AgeHeartbeatAsync(request.JobId);
            outcomes.Add(Assert.Single(await store.RecoverStaleAsync(options, 1, dryRun: false, CancellationToken.None)).Outcome);
        }

        Assert.Equal(["requeued_stale", "exhausted"], outcomes);
        var row = await env.JobAsync(request.JobId);
        Assert.Equal(JobStatuses.Failed, row!.Status);
        Assert.Equal(ErrorCodes.RetriesExhausted, row.LastErrorCode);
        var failed = (await env.TimelineAsync(request.JobId)).Last();
        Assert.Equal(TimelineEventTypes.Failed, failed.Type);
        Assert.Equal(ErrorCodes.LeaseLost, JsonDocument.Parse(failed.Data).RootElement.GetProperty("lastCode").GetString());
        Assert.Equal(1, await env.CountAsync($"SELECT count(*) FROM outbox_messages WHERE message_type = 'JobRequested' AND job_id = '{request.JobId}'"));
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task With_the_defaults_a_job_whose_attempts_keep_dying_is_quarantined_at_the_third_death()
    {
        var request = NewRequest(maxAttempts: 3);
        var outcomes = new List<string>();
        for (var round = 1; round <= 3; round++)
        {
            Assert.Equal(AcquireOutcomeKind.Acquired, (await env.Store.AcquireAsync(request, Settings() with { RunsAlone = round > 1 }, CancellationToken.None)).Kind);
            await AgeHeartbeatAsync(request.JobId);
            outcomes.Add(Assert.Single(await store.RecoverStaleAsync(new RecoveryOptions(), 1, dryRun: false, CancellationToken.None)).Outcome);
        }

        Assert.Equal(["requeued_stale", "requeued_stale", "quarantined"], outcomes);
        var row = await env.JobAsync(request.JobId);
        Assert.Equal(JobStatuses.Failed, row!.Status);
        Assert.Equal(ErrorCodes.Quarantined, row.LastErrorCode);
        Assert.Equal(3, row.LeaseExpiryCount);
        Assert.Equal(1, row.UnchargedAttempts);
        Assert.Equal(TimelineEventTypes.Quarantined, (await env.TimelineAsync(request.JobId)).Last().Type);
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task A_deferred_suspect_is_dispatched_again_by_the_next_sweep()
    {
        var job = await AcquireAsync(maxAttempts: 3);
        await AgeHeartbeatAsync(job.JobId);
        await store.RecoverStaleAsync(options, 1, dryRun: false, CancellationToken.None);
        Assert.Empty(await store.DispatchDueAsync(options, dryRun: false, CancellationToken.None));

        Assert.True(await env.Store.DeferDispatchAsync(job.JobId, CancellationToken.None));

        Assert.Equal(job.JobId, Assert.Single(await store.DispatchDueAsync(options, dryRun: false, CancellationToken.None)).JobId);
        Assert.Equal(2, await env.CountAsync($"SELECT count(*) FROM outbox_messages WHERE message_type = 'JobRequested' AND job_id = '{job.JobId}'"));
    }

    [Fact]
    public async Task A_job_whose_attempts_keep_dying_is_quarantined_when_limits_are_not_enforced()
    {
        var relaxed = new RecoveryOptions { EnforceAttemptLimits = false, QuarantineAfterLeaseExpiries = 2 };
        var request = NewRequest(maxAttempts: 1);
        for (var round = 1; round <= 2; round++)
        {
            var outcome = await env.Store.AcquireAsync(request, Settings() with { RunsAlone = round > 1 }, CancellationToken.None);
            Assert.Equal(AcquireOutcomeKind.Acquired, outcome.Kind);
            await AgeHeartbeatAsync(request.JobId);
            var recovered = Assert.Single(await store.RecoverStaleAsync(relaxed, 1, dryRun: false, CancellationToken.None));
            Assert.Equal(round == 1 ? "requeued_stale" : "quarantined", recovered.Outcome);
        }

        var row = await env.JobAsync(request.JobId);
        Assert.Equal(ErrorCodes.Quarantined, row!.LastErrorCode);
        Assert.Equal(TimelineEventTypes.Quarantined, (await env.TimelineAsync(request.JobId)).Last().Type);
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task A_hung_attempt_that_still_heartbeats_is_requeued_once_past_its_deadline()
    {
        var job = await AcquireAsync(maxAttempts: 3);
        await ExecuteAsync($"UPDATE jobs SET processing_deadline_at = now() - interval '1 second' WHERE id = '{job.JobId}'");

        Assert.Equal("requeued_hung", Assert.Single(await store.RecoverStaleAsync(options, 1, dryRun: false, CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task A_due_retry_is_dispatched_exactly_once()
    {
        var job = await AcquireAsync(maxAttempts: 3);
        Assert.True(await env.Store.ScheduleRetryAsync(job, ErrorCodes.Timeout, "slow", DateTimeOffset.UtcNow.AddSeconds(-1), chargeAttempt: true,
            [Runtime.Timeline.TimelineEntry.Of(TimelineEventTypes.RetryScheduled, ("code", ErrorCodes.Timeout))], CancellationToken.None));

        var first = await store.DispatchDueAsync(options, dryRun: false, CancellationToken.None);
        var second = await store.DispatchDueAsync(options, dryRun: false, CancellationToken.None);

        Assert.Equal(job.JobId, Assert.Single(first).JobId);
        Assert.Empty(second);
        Assert.Equal(1, await env.CountAsync("SELECT count(*) FROM outbox_messages WHERE message_type = 'JobRequested'"));
    }

    [Fact]
    public async Task A_retry_that_is_not_due_yet_waits()
    {
        var job = await AcquireAsync(maxAttempts: 3);
        await env.Store.ScheduleRetryAsync(job, ErrorCodes.Timeout, "slow", DateTimeOffset.UtcNow.AddMinutes(5), chargeAttempt: true,
            [Runtime.Timeline.TimelineEntry.Of(TimelineEventTypes.RetryScheduled, ("code", ErrorCodes.Timeout))], CancellationToken.None);

        Assert.Empty(await store.DispatchDueAsync(options, dryRun: false, CancellationToken.None));
    }

    [Fact]
    public async Task Dry_run_reports_but_changes_nothing()
    {
        var job = await AcquireAsync(maxAttempts: 3);
        await AgeHeartbeatAsync(job.JobId);
        var before = await env.JobAsync(job.JobId);

        var wouldRecover = await store.RecoverStaleAsync(options, 1, dryRun: true, CancellationToken.None);

        Assert.Equal(job.JobId, Assert.Single(wouldRecover).JobId);
        var after = await env.JobAsync(job.JobId);
        Assert.Equal(before!.Status, after!.Status);
        Assert.Equal(before.LastEventSeq, after.LastEventSeq);
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM outbox_messages WHERE message_type = 'JobRequested'"));
    }

    [Fact]
    public async Task Racing_sweeps_never_recover_a_job_twice()
    {
        var jobs = new List<JobLease>();
        for (var i = 0; i < 30; i++)
        {
            jobs.Add(await AcquireAsync(maxAttempts: 3));
        }

        await ExecuteAsync("UPDATE jobs SET last_heartbeat_at = now() - interval '10 minutes'");

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            Task.Run(() => store.RecoverStaleAsync(new RecoveryOptions { BatchSize = 10 }, 1, dryRun: false, CancellationToken.None))));
        var rest = await store.RecoverStaleAsync(options, 1, dryRun: false, CancellationToken.None);

        var all = results.SelectMany(r => r).Concat(rest).Select(r => r.JobId).ToList();
        Assert.Equal(30, all.Count);
        Assert.Equal(30, all.Distinct().Count());
        Assert.Equal(30, await env.CountAsync("SELECT count(*) FROM job_events WHERE type = 'requeued'"));
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task Operator_requeue_revives_a_failed_job_and_refuses_others()
    {
        var job = await AcquireAsync(maxAttempts: 1);
        Assert.Equal("processing", await store.RequeueByOperatorAsync(job.JobId, "try again", CancellationToken.None));
        await env.Store.FailAsync(job, ErrorCodes.CorruptMedia, "bad", [Runtime.Timeline.TimelineEntry.Of(TimelineEventTypes.Failed, ("code", ErrorCodes.CorruptMedia))], CancellationToken.None);

        Assert.Null(await store.RequeueByOperatorAsync(job.JobId, "source re-uploaded", CancellationToken.None));
        Assert.Equal("missing", await store.RequeueByOperatorAsync(Guid.NewGuid(), "x", CancellationToken.None));

        var row = await env.JobAsync(job.JobId);
        Assert.Equal(JobStatuses.Queued, row!.Status);
        Assert.Equal(0, row.AttemptCount - row.UnchargedAttempts);
        var again = await env.Store.AcquireAsync(NewRequest(1) with { JobId = job.JobId }, Settings(), CancellationToken.None);
        Assert.Equal(AcquireOutcomeKind.Acquired, again.Kind);
        Assert.Equal(2, again.Lease!.Attempt);
        Assert.Equal(1, again.Lease.ChargedAttempts);
        await env.AssertAllTimelinesValidAsync();
    }

    // A 30 s lease: only a heartbeat the test ages (by ten minutes) is stale, never one a slow machine left a second behind.
    private static AcquireSettings Settings() => new("w1", 30, 3600, 3);

    private static JobRequested NewRequest(int maxAttempts) =>
        new() { JobId = Guid.NewGuid(), Stage = "synthetic", OutputKey = "x.json", MaxAttempts = maxAttempts };

    private async Task<JobLease> AcquireAsync(int maxAttempts)
    {
        var outcome = await env.Store.AcquireAsync(NewRequest(maxAttempts), Settings(), CancellationToken.None);
        Assert.Equal(AcquireOutcomeKind.Acquired, outcome.Kind);
        return outcome.Lease!;
    }

    private Task AgeHeartbeatAsync(Guid jobId) =>
        ExecuteAsync($"UPDATE jobs SET last_heartbeat_at = now() - interval '10 minutes' WHERE id = '{jobId}'");

    private async Task ExecuteAsync(string sql)
    {
        await using var command = env.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
