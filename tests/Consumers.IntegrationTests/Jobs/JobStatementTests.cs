using System.Diagnostics;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Recovery;
using Consumers.Runtime.Timeline;

namespace Consumers.IntegrationTests.Jobs;

/// <summary>
/// The named job statements (<c>Jobs/Sql</c>) against the real database, each test in a transaction that is rolled
/// back: what each writes to the row, the timeline and the outbox, and that every statement writes the same envelope.
/// </summary>
public sealed class JobStatementTests(SharedDatabase database) : IClassFixture<SharedDatabase>
{
    private static readonly string[] EnvelopeFields = ["schemaVersion", "jobId", "sequence", "type", "attempt", "stage", "occurredAt", "data"];
    private static readonly AcquireSettings Settings = new("w1", 1, 3600, 3);

    [Fact]
    public async Task Submit_writes_the_row_its_requested_event_and_both_messages_once()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var request = NewRequest(maxAttempts: 3);

        Assert.True(await tx.Jobs.SubmitAsync(request, 3, CancellationToken.None));
        Assert.False(await tx.Jobs.SubmitAsync(request, 3, CancellationToken.None));

        var requested = Assert.Single(await tx.TimelineAsync(request.JobId));
        Assert.Equal((1L, TimelineEventTypes.Requested, 0), (requested.Seq, requested.Type, requested.Attempt));
        var outbox = await tx.OutboxAsync(request.JobId);
        Assert.Equal(["JobTimelineEvent", "JobRequested"], outbox.Select(o => o.Type).Order(StringComparer.Ordinal).Reverse());
        AssertEnvelope(outbox.Single(o => o.Type == "JobTimelineEvent").Body, request.JobId, 1, TimelineEventTypes.Requested, 0);
        Assert.Equal("consumers.jobs", outbox.Single(o => o.Type == "JobRequested").Destination);
        Assert.Equal("queued", await tx.ScalarAsync<string>($"SELECT status FROM jobs WHERE id = '{request.JobId}'"));
    }

    [Fact]
    public async Task Acquiring_a_new_id_writes_requested_then_started_and_a_second_acquire_is_refused()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var request = NewRequest(maxAttempts: 3);

        var won = await tx.Jobs.AcquireAsync(request, Settings, CancellationToken.None);
        var again = await tx.Jobs.AcquireAsync(request, Settings, CancellationToken.None);

        Assert.Equal(AcquireOutcomeKind.Acquired, won.Kind);
        Assert.Equal(new JobLease(request.JobId, "synthetic", 1, 1, 3, 1, 0), won.Lease);
        Assert.Equal(AcquireOutcomeKind.HeldElsewhere, again.Kind);
        Assert.Equal([TimelineEventTypes.Requested, TimelineEventTypes.Started], (await tx.TimelineAsync(request.JobId)).Select(e => e.Type));
        var bodies = (await tx.OutboxAsync(request.JobId)).Select(o => o.Body).ToList();
        AssertEnvelope(bodies[0], request.JobId, 1, TimelineEventTypes.Requested, 0);
        AssertEnvelope(bodies[1], request.JobId, 2, TimelineEventTypes.Started, 1);
        await tx.AssertTimelinesValidAsync(request.JobId);
    }

    [Fact]
    public async Task Acquiring_a_submitted_job_writes_started_after_requested_and_reports_why_a_queued_row_was_not_won()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var request = NewRequest(maxAttempts: 3);
        Assert.True(await tx.Jobs.SubmitAsync(request, 3, CancellationToken.None));

        var won = await tx.Jobs.AcquireAsync(request, Settings, CancellationToken.None);

        Assert.Equal(new JobLease(request.JobId, "synthetic", 1, 1, 3, 1, 0), won.Lease);
        Assert.Equal([TimelineEventTypes.Requested, TimelineEventTypes.Started], (await tx.TimelineAsync(request.JobId)).Select(e => e.Type));
        var started = (await tx.OutboxAsync(request.JobId)).Where(o => o.Type == "JobTimelineEvent").Last();
        AssertEnvelope(started.Body, request.JobId, 2, TimelineEventTypes.Started, 1);
        await tx.AssertTimelinesValidAsync(request.JobId);

        var notDue = NewRequest(maxAttempts: 3);
        Assert.True(await tx.Jobs.SubmitAsync(notDue, 3, CancellationToken.None));
        await tx.ExecuteAsync($"UPDATE jobs SET not_before = now() + interval '1 hour' WHERE id = '{notDue.JobId}'");
        Assert.Equal(AcquireOutcomeKind.NotDue, (await tx.Jobs.AcquireAsync(notDue, Settings, CancellationToken.None)).Kind);

        var suspect = NewRequest(maxAttempts: 3);
        Assert.True(await tx.Jobs.SubmitAsync(suspect, 3, CancellationToken.None));
        await tx.ExecuteAsync($"UPDATE jobs SET lease_expiry_count = 1 WHERE id = '{suspect.JobId}'");
        Assert.Equal(AcquireOutcomeKind.Suspect, (await tx.Jobs.AcquireAsync(suspect, Settings, CancellationToken.None)).Kind);
        Assert.Equal(AcquireOutcomeKind.Acquired, (await tx.Jobs.AcquireAsync(suspect, Settings with { RunsAlone = true }, CancellationToken.None)).Kind);
    }

    [Fact]
    public async Task A_queued_job_with_a_pending_cancel_ends_cancelled_instead_of_being_acquired()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var request = NewRequest(maxAttempts: 3);
        Assert.True(await tx.Jobs.SubmitAsync(request, 3, CancellationToken.None));
        await tx.ExecuteAsync($"UPDATE jobs SET cancel_requested_at = now(), cancel_reason = 'crossed a retry' WHERE id = '{request.JobId}'");

        var outcome = await tx.Jobs.AcquireAsync(request, Settings, CancellationToken.None);

        Assert.Equal((AcquireOutcomeKind.AlreadyFinished, "cancelled"), (outcome.Kind, outcome.Status));
        Assert.Equal([TimelineEventTypes.Requested, TimelineEventTypes.Cancelled], (await tx.TimelineAsync(request.JobId)).Select(e => e.Type));
        await tx.AssertTimelinesValidAsync(request.JobId);
    }

    [Fact]
    public async Task Successes_written_together_are_each_fenced_by_their_own_token_and_a_lost_lease_fails_only_its_job()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var leases = new[] { await AcquireAsync(tx, 3), await AcquireAsync(tx, 3), await AcquireAsync(tx, 3) };
        // The middle job's lease was taken over: its attempt's token is superseded.
        await tx.ExecuteAsync($"UPDATE jobs SET lease_token = lease_token + 1 WHERE id = '{leases[1].JobId}'");
        var traces = new[] { "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", null, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" };
        var completions = leases.Select((lease, i) =>
        {
            var artifact = new Runtime.Artifacts.ArtifactRecord($"out-{i}.json", 10 + i, new string((char)('a' + i), 64));
            IReadOnlyList<TimelineEntry> events = i == 0
                ? [TimelineEntries.Progress(100), TimelineEntries.Completed(artifact, TimeSpan.FromSeconds(1))]
                : [TimelineEntries.Completed(artifact, TimeSpan.FromSeconds(1))];
            return new Completion(lease, artifact, events, i == 2 ? """{"frames": 3}""" : null, traces[i]);
        }).ToList();

        var written = await tx.Jobs.SucceedManyAsync(completions, CancellationToken.None);

        Assert.Equal(new[] { leases[0].JobId, leases[2].JobId }.Order(), written.Order());
        Assert.Equal("processing", await tx.ScalarAsync<string>($"SELECT status FROM jobs WHERE id = '{leases[1].JobId}'"));
        Assert.Equal(2, await tx.CountAsync($"SELECT count(*) FROM job_events WHERE job_id = '{leases[1].JobId}'"));
        Assert.Equal("out-2.json|12|3", await tx.ScalarAsync<string>(
            $"SELECT artifact_key || '|' || artifact_size || '|' || (result ->> 'frames') FROM jobs WHERE id = '{leases[2].JobId}' AND status = 'succeeded'"));
        Assert.Equal([TimelineEventTypes.Requested, TimelineEventTypes.Started, TimelineEventTypes.Progress, TimelineEventTypes.Completed],
            (await tx.TimelineAsync(leases[0].JobId)).Select(e => e.Type));
        foreach (var i in new[] { 0, 2 })
        {
            var outbox = (await tx.OutboxAsync(leases[i].JobId)).Where(o => o.Type == "JobTimelineEvent").ToList();
            var completed = outbox[^1];
            AssertEnvelope(completed.Body, leases[i].JobId, i == 0 ? 4 : 3, TimelineEventTypes.Completed, 1);
            Assert.Equal(traces[i], completed.TraceParent);
            await tx.AssertTimelinesValidAsync(leases[i].JobId);
        }
    }

    [Fact]
    public async Task A_write_with_a_superseded_token_changes_nothing()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var lease = await AcquireAsync(tx, maxAttempts: 3);
        var stale = lease with { Token = lease.Token - 1 };

        Assert.False(await tx.Jobs.AppendProgressAsync(stale, 50, CancellationToken.None));
        Assert.False(await tx.Jobs.FailAsync(stale, ErrorCodes.CorruptMedia, "bad", [TimelineEntries.Failed(ErrorCodes.CorruptMedia, "bad", null, null, 1, null)], CancellationToken.None));
        Assert.False(await tx.Jobs.IsLeaseHeldAsync(stale, CancellationToken.None));
        Assert.True(await tx.Jobs.IsLeaseHeldAsync(lease, CancellationToken.None));

        Assert.Equal(2, await tx.CountAsync($"SELECT last_event_seq FROM jobs WHERE id = '{lease.JobId}'"));
        Assert.Equal(2, await tx.CountAsync($"SELECT count(*) FROM outbox_messages WHERE job_id = '{lease.JobId}'"));
    }

    [Fact]
    public async Task A_success_ends_progress_and_completed_in_order_and_is_found_again_by_its_last_event()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var lease = await AcquireAsync(tx, maxAttempts: 3);
        var artifact = new Runtime.Artifacts.ArtifactRecord("x.json", 12, new string('a', 64));
        var completed = TimelineEntries.Completed(artifact, TimeSpan.FromSeconds(2));

        Assert.True(await tx.Jobs.AppendProgressAsync(lease, 40, CancellationToken.None));
        Assert.False(await tx.Jobs.HasWrittenAsync(lease, completed, CancellationToken.None));
        Assert.True(await tx.Jobs.SucceedAsync(lease, artifact, [TimelineEntries.Progress(100), completed], CancellationToken.None));

        Assert.True(await tx.Jobs.HasWrittenAsync(lease, completed, CancellationToken.None));
        var timeline = await tx.TimelineAsync(lease.JobId);
        Assert.Equal([1L, 2, 3, 4, 5], timeline.Select(e => e.Seq));
        Assert.Equal([TimelineEventTypes.Progress, TimelineEventTypes.Progress, TimelineEventTypes.Completed], timeline.Skip(2).Select(e => e.Type));
        var bodies = (await tx.OutboxAsync(lease.JobId)).Select(o => JsonDocument.Parse(o.Body).RootElement.GetProperty("sequence").GetInt64());
        Assert.Equal([1L, 2, 3, 4, 5], bodies);
        Assert.Equal("succeeded", await tx.ScalarAsync<string>($"SELECT status FROM jobs WHERE id = '{lease.JobId}'"));
        await tx.AssertTimelinesValidAsync(lease.JobId);
    }

    [Theory]
    [InlineData(true, 0)]
    [InlineData(false, 1)]
    public async Task A_retry_charges_the_attempt_only_when_asked(bool charge, int uncharged)
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var lease = await AcquireAsync(tx, maxAttempts: 3);

        Assert.True(await tx.Jobs.ScheduleRetryAsync(lease, ErrorCodes.Timeout, "slow", DateTimeOffset.UtcNow.AddMinutes(5), charge,
            [TimelineEntries.RetryScheduled(ErrorCodes.Timeout, "slow", 1, DateTimeOffset.UtcNow.AddMinutes(5), charge, null)], CancellationToken.None));

        Assert.Equal(uncharged, await tx.CountAsync($"SELECT uncharged_attempts FROM jobs WHERE id = '{lease.JobId}'"));
        Assert.Equal(0, await tx.CountAsync($"SELECT count(*) FROM outbox_messages WHERE job_id = '{lease.JobId}' AND message_type = 'JobRequested'"));
        Assert.Empty(await tx.Sweep.DispatchDueAsync(new RecoveryOptions(), dryRun: false, CancellationToken.None));
        await tx.AssertTimelinesValidAsync(lease.JobId);
    }

    [Fact]
    public async Task A_requeue_writes_aborted_then_requeued_then_a_fresh_request()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var lease = await AcquireAsync(tx, maxAttempts: 3);

        Assert.True(await tx.Jobs.RequeueAsync(lease, chargeAttempt: false, TimelineEntries.GivenBack(1, "shutdown_timeout", "shutdown"), CancellationToken.None));

        var outbox = await tx.OutboxAsync(lease.JobId);
        Assert.Equal(5, outbox.Count);
        Assert.Equal(1, outbox.Count(o => o.Type == "JobRequested"));
        var events = outbox.Where(o => o.Type == "JobTimelineEvent").Select(o => JsonDocument.Parse(o.Body).RootElement).ToList();
        Assert.Equal([TimelineEventTypes.Requested, TimelineEventTypes.Started, TimelineEventTypes.Aborted, TimelineEventTypes.Requeued],
            events.Select(e => e.GetProperty("type").GetString()));
        Assert.Equal(1, await tx.CountAsync($"SELECT uncharged_attempts FROM jobs WHERE id = '{lease.JobId}'"));
        await tx.AssertTimelinesValidAsync(lease.JobId);
    }

    [Fact]
    public async Task Cancelling_a_running_job_is_a_request_then_a_fenced_cancelled_event_with_where_running()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var lease = await AcquireAsync(tx, maxAttempts: 3);

        Assert.Equal(CancelOutcomeKind.Requested, (await tx.Jobs.RequestCancelAsync(lease.JobId, "not needed", "ops", CancellationToken.None)).Kind);
        Assert.Equal(CancelOutcomeKind.AlreadyRequested, (await tx.Jobs.RequestCancelAsync(lease.JobId, "again", "ops", CancellationToken.None)).Kind);
        var beat = await tx.Jobs.HeartbeatAsync([new HeartbeatEntry(lease.JobId, lease.Token, 30)], TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.Contains(lease.JobId, beat.CancelRequested);
        Assert.False(await tx.Jobs.CancelRunningAsync(lease with { Token = 99 }, CancellationToken.None));
        Assert.True(await tx.Jobs.CancelRunningAsync(lease, CancellationToken.None));

        var cancelled = (await tx.TimelineAsync(lease.JobId)).Last();
        Assert.Equal(TimelineEventTypes.Cancelled, cancelled.Type);
        var data = JsonDocument.Parse(cancelled.Data).RootElement;
        Assert.Equal(("not needed", "ops", "running"), (data.GetProperty("reason").GetString(), data.GetProperty("by").GetString(), data.GetProperty("where").GetString()));
        AssertEnvelope((await tx.OutboxAsync(lease.JobId)).Last().Body, lease.JobId, 3, TimelineEventTypes.Cancelled, 1);
        Assert.Equal(CancelOutcomeKind.Finished, (await tx.Jobs.RequestCancelAsync(lease.JobId, null, "ops", CancellationToken.None)).Kind);
        Assert.Equal(CancelOutcomeKind.Missing, (await tx.Jobs.RequestCancelAsync(Guid.NewGuid(), null, "ops", CancellationToken.None)).Kind);
        await tx.AssertTimelinesValidAsync(lease.JobId);
    }

    [Fact]
    public async Task The_sweep_writes_one_envelope_per_job_with_the_trace_of_the_sweep()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var leases = new[] { await AcquireAsync(tx, 3), await AcquireAsync(tx, 3), await AcquireAsync(tx, 3) };
        await tx.ExecuteAsync("UPDATE jobs SET last_heartbeat_at = now() - interval '1 minute'");
        using var sweep = new Activity("sweep").SetIdFormat(ActivityIdFormat.W3C).Start();

        var recovered = await tx.Sweep.RecoverStaleAsync(new RecoveryOptions(), 1, dryRun: false, CancellationToken.None);

        Assert.Equal(leases.Select(l => l.JobId).Order(), recovered.Select(r => r.JobId).Order());
        Assert.All(recovered, r => Assert.Equal(("requeued_stale", "w1"), (r.Outcome, r.PreviousWorker)));
        foreach (var lease in leases)
        {
            var outbox = await tx.OutboxAsync(lease.JobId);
            var requeued = outbox.Where(o => o.Type == "JobTimelineEvent").Last();
            AssertEnvelope(requeued.Body, lease.JobId, 3, TimelineEventTypes.Requeued, 1);
            Assert.Equal(sweep.Id, requeued.TraceParent);
            Assert.Equal(sweep.Id, outbox.Single(o => o.Type == "JobRequested").TraceParent);
            await tx.AssertTimelinesValidAsync(lease.JobId);
        }
    }

    [Fact]
    public async Task A_sweep_that_exhausts_the_attempts_writes_the_codes_and_message_it_always_did()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var request = NewRequest(maxAttempts: 1);
        for (var round = 1; round <= 2; round++)
        {
            Assert.Equal(AcquireOutcomeKind.Acquired, (await tx.Jobs.AcquireAsync(request, Settings with { RunsAlone = round > 1 }, CancellationToken.None)).Kind);
            await tx.ExecuteAsync($"UPDATE jobs SET last_heartbeat_at = now() - interval '1 minute' WHERE id = '{request.JobId}'");
            Assert.Single(await tx.Sweep.RecoverStaleAsync(new RecoveryOptions(), 1, dryRun: false, CancellationToken.None));
        }

        var failed = (await tx.TimelineAsync(request.JobId)).Last();
        var data = JsonDocument.Parse(failed.Data).RootElement;
        Assert.Equal((TimelineEventTypes.Failed, ErrorCodes.RetriesExhausted, ErrorCodes.LeaseLost, "2"),
            (failed.Type, data.GetProperty("code").GetString(), data.GetProperty("lastCode").GetString(), data.GetProperty("attempt").GetString()));
        Assert.Equal("1 of 1 attempts used; the last one stopped heartbeating (LEASE_LOST)", data.GetProperty("message").GetString());
        Assert.Equal(ErrorCodes.RetriesExhausted, await tx.ScalarAsync<string>($"SELECT last_error_code FROM jobs WHERE id = '{request.JobId}'"));
        await tx.AssertTimelinesValidAsync(request.JobId);
    }

    [Fact]
    public async Task Dispatch_sends_a_due_retry_once_and_writes_no_event()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var lease = await AcquireAsync(tx, maxAttempts: 3);
        await tx.Jobs.ScheduleRetryAsync(lease, ErrorCodes.Timeout, "slow", DateTimeOffset.UtcNow.AddMinutes(-1), chargeAttempt: true,
            [TimelineEntries.RetryScheduled(ErrorCodes.Timeout, "slow", 1, DateTimeOffset.UtcNow.AddMinutes(-1), true, null)], CancellationToken.None);
        var seq = await tx.CountAsync($"SELECT last_event_seq FROM jobs WHERE id = '{lease.JobId}'");

        Assert.Equal(lease.JobId, Assert.Single(await tx.Sweep.DispatchDueAsync(new RecoveryOptions(), dryRun: false, CancellationToken.None)).JobId);
        Assert.Empty(await tx.Sweep.DispatchDueAsync(new RecoveryOptions(), dryRun: false, CancellationToken.None));

        Assert.Equal(seq, await tx.CountAsync($"SELECT last_event_seq FROM jobs WHERE id = '{lease.JobId}'"));
        Assert.Equal("consumers.jobs", (await tx.OutboxAsync(lease.JobId)).Single(o => o.Type == "JobRequested").Destination);
    }

    [Fact]
    public async Task An_operator_requeue_writes_its_note_and_reports_what_refused_it()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var lease = await AcquireAsync(tx, maxAttempts: 1);
        Assert.Equal("processing", await tx.Sweep.RequeueByOperatorAsync(lease.JobId, "too early", CancellationToken.None));
        await tx.Jobs.FailAsync(lease, ErrorCodes.CorruptMedia, "bad", [TimelineEntries.Failed(ErrorCodes.CorruptMedia, "bad", null, null, 1, null)], CancellationToken.None);

        Assert.Null(await tx.Sweep.RequeueByOperatorAsync(lease.JobId, "source re-uploaded", CancellationToken.None));
        Assert.Equal("missing", await tx.Sweep.RequeueByOperatorAsync(Guid.NewGuid(), "x", CancellationToken.None));

        var requeued = (await tx.TimelineAsync(lease.JobId)).Last();
        Assert.Equal("source re-uploaded", JsonDocument.Parse(requeued.Data).RootElement.GetProperty("note").GetString());
        AssertEnvelope((await tx.OutboxAsync(lease.JobId)).Last(o => o.Type == "JobTimelineEvent").Body, lease.JobId, 4, TimelineEventTypes.Requeued, 1);
        await tx.AssertTimelinesValidAsync(lease.JobId);
    }

    [Fact]
    public async Task Retention_counts_and_prunes_only_finished_jobs_past_their_retention_whose_messages_are_out()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var old = await AcquireAsync(tx, maxAttempts: 1);
        await tx.Jobs.FailAsync(old, ErrorCodes.CorruptMedia, "bad", [TimelineEntries.Failed(ErrorCodes.CorruptMedia, "bad", null, null, 1, null)], CancellationToken.None);
        var unpublished = await AcquireAsync(tx, maxAttempts: 1);
        await tx.Jobs.FailAsync(unpublished, ErrorCodes.CorruptMedia, "bad", [TimelineEntries.Failed(ErrorCodes.CorruptMedia, "bad", null, null, 1, null)], CancellationToken.None);
        await tx.ExecuteAsync("UPDATE jobs SET finished_at = now() - interval '400 days'");
        await tx.ExecuteAsync($"DELETE FROM outbox_messages WHERE job_id = '{old.JobId}'");
        var retention = new Runtime.Control.RetentionOptions();

        Assert.Equal(1, (await tx.Jobs.CountPrunableAsync(retention, CancellationToken.None))["failed"]);
        Assert.Equal(1, (await tx.Jobs.PruneFinishedAsync(retention, CancellationToken.None))["failed"]);

        Assert.Equal(0, await tx.CountAsync($"SELECT count(*) FROM job_events WHERE job_id = '{old.JobId}'"));
        Assert.Equal(1, await tx.CountAsync($"SELECT count(*) FROM jobs WHERE id = '{unpublished.JobId}'"));
    }

    [Fact]
    public async Task The_janitor_reads_the_status_and_attempt_of_the_jobs_it_asks_about()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var lease = await AcquireAsync(tx, maxAttempts: 3);

        var states = await tx.Jobs.AttemptStatesAsync([lease.JobId, Guid.NewGuid()], CancellationToken.None);

        Assert.Equal(("processing", 1), Assert.Single(states).Value);
    }

    private static JobRequested NewRequest(int maxAttempts) =>
        new() { JobId = Guid.NewGuid(), Stage = "synthetic", OutputKey = $"{Guid.NewGuid():N}.json", MaxAttempts = maxAttempts };

    private static async Task<JobLease> AcquireAsync(StatementTransaction tx, int maxAttempts)
    {
        var outcome = await tx.Jobs.AcquireAsync(NewRequest(maxAttempts), Settings, CancellationToken.None);
        Assert.Equal(AcquireOutcomeKind.Acquired, outcome.Kind);
        return outcome.Lease!;
    }

    /// <summary>Every statement publishes the same <c>JobTimelineEvent</c> shape.</summary>
    private static void AssertEnvelope(string body, Guid jobId, long sequence, string type, int attempt)
    {
        var root = JsonDocument.Parse(body).RootElement;
        Assert.Equal(EnvelopeFields.Order(StringComparer.Ordinal), root.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(1, root.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(jobId, root.GetProperty("jobId").GetGuid());
        Assert.Equal(sequence, root.GetProperty("sequence").GetInt64());
        Assert.Equal(type, root.GetProperty("type").GetString());
        Assert.Equal(attempt, root.GetProperty("attempt").GetInt32());
        Assert.Equal("synthetic", root.GetProperty("stage").GetString());
    }
}
