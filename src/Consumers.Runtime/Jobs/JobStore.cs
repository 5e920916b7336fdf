using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Progress;
using Consumers.Runtime.Timeline;
using Npgsql;
using NpgsqlTypes;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// The job state machine. Every method is one round trip: one statement (or one batch) that changes the row,
/// appends the timeline and queues outbox messages together. Writes of an attempt are fenced by its lease
/// token: when the token no longer matches, nothing is written and the method says so.
/// </summary>
public sealed class JobStore(NpgsqlDataSource dataSource, JobQueueName jobQueue) : IHeartbeatStore, IProgressStore
{
    private const string ProcessingGuard = " WHERE id = @id AND lease_token = @token AND status = 'processing'";

    /// <summary>
    /// Registers a job (row, <c>requested</c> event, and its <c>JobRequested</c> in the outbox) in one
    /// transaction. Returns false when a job with that id already exists; nothing is changed then. Throws
    /// <see cref="Failures.JobFailureException"/> (INVALID_REQUEST naming the field) for text the database cannot store.
    /// </summary>
    public async Task<bool> SubmitAsync(JobRequested request, int maxAttempts, CancellationToken cancellationToken)
    {
        if (JobRequestValidator.FindUnstorable(request) is { } unstorable)
        {
            throw unstorable;
        }

        var rowSource =
            "INSERT INTO jobs (id, stage, source, output_key, clip_duration_seconds, request, status, attempt_count, max_attempts, " +
            "lease_token, lease_timeout_seconds, dispatched, dispatched_at, last_event_seq, created_at, updated_at) " +
            "VALUES (@id, @stage, @source, @output_key, @clip, @request::jsonb, 'queued', 0, @max_attempts, 0, 0, true, now(), 1, now(), now()) " +
            "ON CONFLICT (id) DO NOTHING" + TransitionSql.Returning;
        await using var command = dataSource.CreateCommand(TransitionSql.Build(rowSource, 1, dispatchRequest: true));
        BindRequest(command.Parameters, request, maxAttempts);
        BindEvents(command.Parameters, [RequestedEntry(request)]);
        BindJobQueue(command.Parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken);
    }

    /// <summary>
    /// Takes the lease of a delivered job: creates the row already in <c>processing</c> when the id is new,
    /// otherwise moves a due <c>queued</c> row to <c>processing</c> (a suspect one only when the caller runs it
    /// alone, <see cref="AcquireSettings.RunsAlone"/>). Both statements run in one implicit
    /// transaction; at most one of them wins, and only one attempt across all workers can.
    /// </summary>
    public async Task<AcquireOutcome> AcquireAsync(JobRequested request, AcquireSettings settings, CancellationToken cancellationToken)
    {
        var insertAcquired =
            "INSERT INTO jobs (id, stage, source, output_key, clip_duration_seconds, request, status, attempt_count, max_attempts, " +
            "lease_token, lease_owner, lease_timeout_seconds, processing_started_at, last_heartbeat_at, processing_deadline_at, " +
            "dispatched, dispatched_at, last_event_seq, created_at, updated_at) " +
            "VALUES (@id, @stage, @source, @output_key, @clip, @request::jsonb, 'processing', 1, @max_attempts, 1, @owner, @lease_seconds, " +
            "now(), now(), now() + make_interval(secs => @deadline_seconds), true, now(), 2, now(), now()) " +
            "ON CONFLICT (id) DO NOTHING" + TransitionSql.Returning;
        var acquireExisting =
            "UPDATE jobs SET status = 'processing', attempt_count = attempt_count + 1, lease_token = lease_token + 1, " +
            "lease_owner = @owner, lease_timeout_seconds = @lease_seconds, processing_started_at = now(), last_heartbeat_at = now(), " +
            "processing_deadline_at = now() + make_interval(secs => @deadline_seconds), not_before = NULL, progress_percent = NULL, " +
            "last_event_seq = last_event_seq + 1, updated_at = now() " +
            "WHERE id = @id AND status = 'queued' AND cancel_requested_at IS NULL AND (not_before IS NULL OR not_before <= now()) " +
            "AND (lease_expiry_count = 0 OR @runs_alone)" + TransitionSql.Returning;

        await using var batch = dataSource.CreateBatch();

        var insert = new NpgsqlBatchCommand(TransitionSql.Build(insertAcquired, 2, dispatchRequest: false));
        BindRequest(insert.Parameters, request, request.MaxAttempts ?? settings.DefaultMaxAttempts);
        BindAcquire(insert.Parameters, settings);
        BindEvents(insert.Parameters, [RequestedEntry(request), StartedEntry(settings, attempt: 1)]);
        batch.BatchCommands.Add(insert);

        // A queued job whose cancel raced its way back to the queue (a retry or requeue written as the cancel came) ends
        // here instead of running: a cancelled job never runs again, whatever is delivered.
        var pendingCancel = new NpgsqlBatchCommand(CancelSql.Build("j.id = @id AND j.status = 'queued' AND j.cancel_requested_at IS NOT NULL", "'queued'"));
        pendingCancel.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = request.JobId });
        BindCancelRequest(pendingCancel.Parameters, null, null);
        batch.BatchCommands.Add(pendingCancel);

        var update = new NpgsqlBatchCommand(TransitionSql.Build(acquireExisting, 1, dispatchRequest: false));
        update.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = request.JobId });
        update.Parameters.Add(new NpgsqlParameter("runs_alone", NpgsqlDbType.Boolean) { Value = settings.RunsAlone });
        BindAcquire(update.Parameters, settings);
        BindEvents(update.Parameters, [StartedEntry(settings, attempt: null)]);
        batch.BatchCommands.Add(update);

        var status = new NpgsqlBatchCommand("SELECT status, not_before > now(), lease_expiry_count > 0 FROM jobs WHERE id = @id");
        status.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = request.JobId });
        batch.BatchCommands.Add(status);

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        JobLease? lease = null;
        for (var result = 0; result < 3; result++)
        {
            // Result 1 is the pending cancel: the status read below reports it.
            if (result != 1 && await reader.ReadAsync(cancellationToken))
            {
                lease = ReadLease(reader);
            }

            await reader.NextResultAsync(cancellationToken);
        }

        if (lease is not null)
        {
            return AcquireOutcome.Won(lease);
        }

        if (!await reader.ReadAsync(cancellationToken))
        {
            // Cannot happen inside one transaction (the insert either created the row or found it), but be explicit.
            return new AcquireOutcome(AcquireOutcomeKind.HeldElsewhere, null, null);
        }

        var currentStatus = reader.GetString(0);
        var notDue = !reader.IsDBNull(1) && reader.GetBoolean(1);
        var suspect = reader.GetBoolean(2);
        var kind = currentStatus switch
        {
            JobStatuses.Succeeded or JobStatuses.Failed or JobStatuses.Cancelled => AcquireOutcomeKind.AlreadyFinished,
            JobStatuses.Queued when notDue => AcquireOutcomeKind.NotDue,
            JobStatuses.Queued when suspect && !settings.RunsAlone => AcquireOutcomeKind.Suspect,
            _ => AcquireOutcomeKind.HeldElsewhere,
        };
        return new AcquireOutcome(kind, null, currentStatus);
    }

    /// <summary>
    /// Records a request that cannot even be stored as it came (a field with text PostgreSQL refuses): the row is
    /// created already <c>failed</c> with <paramref name="code"/>, from <paramref name="sanitized"/> (the same request
    /// with those characters replaced), with its <c>requested</c> and <c>failed</c> events. No attempt runs. Returns
    /// false when a job with that id exists already; nothing is changed then.
    /// </summary>
    public async Task<bool> RejectAsync(JobRequested sanitized, int maxAttempts, string code, string message, string field, CancellationToken cancellationToken)
    {
        var rowSource =
            "INSERT INTO jobs (id, stage, source, output_key, clip_duration_seconds, request, status, attempt_count, max_attempts, " +
            "lease_token, lease_timeout_seconds, dispatched, dispatched_at, last_error_code, last_error_message, last_event_seq, " +
            "finished_at, created_at, updated_at) " +
            "VALUES (@id, @stage, @source, @output_key, @clip, @request::jsonb, 'failed', 0, @max_attempts, 0, 0, true, now(), @code, @message, 2, " +
            "now(), now(), now()) " +
            "ON CONFLICT (id) DO NOTHING" + TransitionSql.Returning;
        await using var command = dataSource.CreateCommand(TransitionSql.Build(rowSource, 2, dispatchRequest: false));
        BindRequest(command.Parameters, sanitized, maxAttempts);
        BindError(command.Parameters, code, message);
        BindEvents(command.Parameters,
        [
            RequestedEntry(sanitized),
            new TimelineEntry(TimelineEventTypes.Failed, new Dictionary<string, string>
            {
                ["code"] = code,
                ["message"] = message,
                ["field"] = field,
            }, Attempt: 0),
        ]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken);
    }

    /// <summary>
    /// Hands a suspect job's delivery back through the database: a worker that cannot run it alone now marks the
    /// queued job undispatched, and the recovery sweep sends its <c>JobRequested</c> again on its next round. No event:
    /// nothing happened to the job. False when it is no longer queued.
    /// </summary>
    public async Task<bool> DeferDispatchAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE jobs SET dispatched = false, dispatched_at = NULL, updated_at = now() WHERE id = @id AND status = 'queued'");
        command.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = jobId });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>True while this attempt still holds the lease; checked right before an artifact is moved into place.</summary>
    public async Task<bool> IsLeaseHeldAsync(JobLease lease, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT 1 FROM jobs" + ProcessingGuard);
        BindLease(command.Parameters, lease);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    /// <summary>
    /// Whether this attempt already wrote <paramref name="entry"/> (same type, attempt and data): after a write whose
    /// connection broke, it tells a commit that landed from one that did not. Only this attempt writes its own data.
    /// </summary>
    public async Task<bool> HasWrittenAsync(JobLease lease, TimelineEntry entry, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT EXISTS (SELECT 1 FROM job_events WHERE job_id = @id AND attempt = @attempt AND type = @type AND data @> @data::jsonb)");
        command.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = lease.JobId });
        command.Parameters.Add(new NpgsqlParameter("attempt", NpgsqlDbType.Integer) { Value = entry.Attempt ?? lease.Attempt });
        command.Parameters.Add(new NpgsqlParameter("type", NpgsqlDbType.Text) { Value = entry.Type });
        command.Parameters.Add(new NpgsqlParameter("data", NpgsqlDbType.Text) { Value = JsonSerializer.Serialize(entry.Data, ContractJson.Options) });
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>Appends a <c>progress</c> event and stores the percent.</summary>
    public Task<bool> AppendProgressAsync(JobLease lease, int percent, CancellationToken cancellationToken) =>
        FencedAsync(lease, "progress_percent = @percent",
            [TimelineEntry.Of(TimelineEventTypes.Progress, ("percent", percent.ToString(System.Globalization.CultureInfo.InvariantCulture)))],
            dispatchRequest: false, p => p.Add(new NpgsqlParameter("percent", NpgsqlDbType.Integer) { Value = percent }), cancellationToken);

    /// <summary>Finishes the attempt as <c>succeeded</c> with its artifact; <paramref name="events"/> end with <c>completed</c> or <c>skipped</c>.</summary>
    public Task<bool> SucceedAsync(JobLease lease, ArtifactRecord artifact, IReadOnlyList<TimelineEntry> events, CancellationToken cancellationToken) =>
        FencedAsync(lease,
            "status = 'succeeded', finished_at = now(), progress_percent = 100, artifact_key = @artifact_key, artifact_size = @artifact_size, " +
            "artifact_sha256 = @artifact_sha256, last_error_code = NULL, last_error_message = NULL, lease_owner = NULL",
            events, dispatchRequest: false, p =>
            {
                p.Add(new NpgsqlParameter("artifact_key", NpgsqlDbType.Text) { Value = artifact.Key });
                p.Add(new NpgsqlParameter("artifact_size", NpgsqlDbType.Bigint) { Value = artifact.Size });
                p.Add(new NpgsqlParameter("artifact_sha256", NpgsqlDbType.Text) { Value = artifact.Sha256 });
            }, cancellationToken);

    /// <summary>Ends the job as <c>failed</c> with its code.</summary>
    public Task<bool> FailAsync(JobLease lease, string code, string message, IReadOnlyList<TimelineEntry> events, CancellationToken cancellationToken) =>
        FencedAsync(lease,
            "status = 'failed', finished_at = now(), last_error_code = @code, last_error_message = @message, lease_owner = NULL",
            events, dispatchRequest: false, p => BindError(p, code, message), cancellationToken);

    /// <summary>
    /// Puts the job back to <c>queued</c> until <paramref name="notBefore"/>; the dispatcher sends it again
    /// then (no broker-side delay exists on this RabbitMQ). An uncharged retry does not count against the attempts.
    /// </summary>
    public Task<bool> ScheduleRetryAsync(JobLease lease, string code, string message, DateTimeOffset notBefore, bool chargeAttempt,
        IReadOnlyList<TimelineEntry> events, CancellationToken cancellationToken) =>
        FencedAsync(lease,
            "status = 'queued', not_before = @not_before, dispatched = false, dispatched_at = NULL, " +
            "last_error_code = @code, last_error_message = @message, lease_owner = NULL, progress_percent = NULL" +
            (chargeAttempt ? "" : ", uncharged_attempts = uncharged_attempts + 1"),
            events, dispatchRequest: false, p =>
            {
                BindError(p, code, message);
                p.Add(new NpgsqlParameter("not_before", NpgsqlDbType.TimestampTz) { Value = notBefore.UtcDateTime });
            }, cancellationToken);

    /// <summary>
    /// Gives the job back at once (shutdown), optionally without charging the attempt, and queues a fresh
    /// <c>JobRequested</c> so another worker starts it without waiting for the recovery sweep.
    /// </summary>
    public Task<bool> RequeueAsync(JobLease lease, bool chargeAttempt, IReadOnlyList<TimelineEntry> events, CancellationToken cancellationToken) =>
        FencedAsync(lease,
            "status = 'queued', not_before = NULL, dispatched = true, dispatched_at = now(), lease_owner = NULL, progress_percent = NULL" +
            (chargeAttempt ? "" : ", uncharged_attempts = uncharged_attempts + 1"),
            events, dispatchRequest: true, null, cancellationToken);

    /// <summary>
    /// Refreshes the heartbeat (and latest progress) of every lease in one statement. Returns the jobs whose
    /// row was updated; the others have lost their lease. With no leases it is still one round trip (the heartbeat
    /// probes its path to the database that way while it has fenced itself). <paramref name="timeout"/> is Npgsql's
    /// command timeout for it; the caller's token should fire at the same time.
    /// </summary>
    public async Task<HeartbeatResult> HeartbeatAsync(IReadOnlyList<HeartbeatEntry> leases, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var alive = new HashSet<Guid>();
        var cancelRequested = new HashSet<Guid>();
        // The beat also answers which of these jobs an operator asked to cancel: the worker stops them within one interval
        // even when the notification that normally wakes it at once was missed.
        await using var command = dataSource.CreateCommand(
            "UPDATE jobs SET last_heartbeat_at = now(), progress_percent = COALESCE(v.progress, jobs.progress_percent) " +
            "FROM unnest(@ids, @tokens, @progress) AS v(id, token, progress) " +
            "WHERE jobs.id = v.id AND jobs.lease_token = v.token AND jobs.status = 'processing' " +
            "RETURNING jobs.id, jobs.cancel_requested_at IS NOT NULL");
        command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid) { Value = leases.Select(l => l.JobId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("tokens", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = leases.Select(l => l.Token).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("progress", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = leases.Select(l => l.ProgressPercent).ToArray() });
        // Npgsql's own bound (whole seconds) behind the caller's token: a beat must give up well inside the lease.
        command.CommandTimeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            alive.Add(reader.GetGuid(0));
            if (reader.GetBoolean(1))
            {
                cancelRequested.Add(reader.GetGuid(0));
            }
        }

        return new HeartbeatResult(alive, cancelRequested);
    }

    /// <summary>
    /// Asks for a job to be cancelled, in one transaction: a waiting job (queued, or queued for a retry) ends as
    /// <c>cancelled</c> at once with its event; a running one gets the request recorded on its row and its worker is
    /// woken by a notification on <see cref="ControlChannel"/> (its next heartbeat would also see it). A finished job is
    /// left alone. Repeating the request changes nothing.
    /// </summary>
    public async Task<CancelOutcome> RequestCancelAsync(Guid jobId, string? reason, string by, CancellationToken cancellationToken)
    {
        const string markRunning =
            "WITH r AS (UPDATE jobs SET cancel_requested_at = now(), cancel_reason = @reason, cancel_by = @by, updated_at = now() " +
            "WHERE id = @id AND status = 'processing' AND cancel_requested_at IS NULL RETURNING id) " +
            "SELECT r.id, pg_notify('" + ControlChannel + "', 'cancel:' || r.id::text) FROM r";
        // A row can move between the statements (a retry puts a running job back in the queue): look again then.
        for (var round = 0; ; round++)
        {
            await using var batch = dataSource.CreateBatch();
            var cancelQueued = new NpgsqlBatchCommand(CancelSql.Build("j.id = @id AND j.status = 'queued'", "'queued'"));
            cancelQueued.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = jobId });
            BindCancelRequest(cancelQueued.Parameters, reason, by);
            batch.BatchCommands.Add(cancelQueued);
            var running = new NpgsqlBatchCommand(markRunning);
            running.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = jobId });
            BindCancelRequest(running.Parameters, reason, by);
            batch.BatchCommands.Add(running);
            var status = new NpgsqlBatchCommand("SELECT status, stage, cancel_requested_at IS NOT NULL FROM jobs WHERE id = @id");
            status.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = jobId });
            batch.BatchCommands.Add(status);

            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            var cancelled = await reader.ReadAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            var requested = await reader.ReadAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return new CancelOutcome(CancelOutcomeKind.Missing, null, null);
            }

            var current = reader.GetString(0);
            var stage = reader.GetString(1);
            var pending = reader.GetBoolean(2);
            if (cancelled)
            {
                return new CancelOutcome(CancelOutcomeKind.Cancelled, stage, current);
            }

            if (requested)
            {
                return new CancelOutcome(CancelOutcomeKind.Requested, stage, current);
            }

            if (JobStatuses.IsTerminal(current))
            {
                return new CancelOutcome(CancelOutcomeKind.Finished, stage, current);
            }

            if (pending || round >= 3)
            {
                // Pending on a queued row too: the next acquire or sweep ends it; it cannot start again.
                return new CancelOutcome(CancelOutcomeKind.AlreadyRequested, stage, current);
            }
        }
    }

    /// <summary>
    /// Ends the running attempt of a job whose cancel was asked for as <c>cancelled</c> (<c>where</c> = running),
    /// fenced by the attempt's token. False when the lease is gone.
    /// </summary>
    public async Task<bool> CancelRunningAsync(JobLease lease, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CancelSql.Build(
            "j.id = @id AND j.lease_token = @token AND j.status = 'processing' AND j.cancel_requested_at IS NOT NULL", "'running'"));
        BindLease(command.Parameters, lease);
        BindCancelRequest(command.Parameters, null, null);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken);
    }

    /// <summary>
    /// The sweep's part of cancelling: ends one batch of jobs whose cancel cannot reach a worker, queued rows with a
    /// pending request (a retry or requeue crossed it) and running rows whose worker stopped heartbeating
    /// or ran past their deadline (a stage that ignores its stop; <c>where</c> = abandoned). Rows another transaction
    /// holds are left for the next sweep.
    /// </summary>
    public async Task<IReadOnlyList<CancelledJob>> CancelAbandonedAsync(int batchSize, CancellationToken cancellationToken)
    {
        const string candidates =
            "c AS (SELECT id, CASE WHEN status = 'queued' THEN 'queued' ELSE 'abandoned' END AS was FROM jobs " +
            "WHERE cancel_requested_at IS NOT NULL AND (status = 'queued' OR (status = 'processing' " +
            "AND (last_heartbeat_at < now() - make_interval(secs => lease_timeout_seconds) OR processing_deadline_at < now()))) " +
            "LIMIT @batch FOR UPDATE SKIP LOCKED)";
        await using var command = dataSource.CreateCommand(CancelSql.Build("j.id = c.id", "c.was", candidates, "c"));
        command.Parameters.Add(new NpgsqlParameter("batch", NpgsqlDbType.Integer) { Value = batchSize });
        BindCancelRequest(command.Parameters, null, null);
        var cancelled = new List<CancelledJob>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            cancelled.Add(new CancelledJob(reader.GetGuid(0), reader.GetString(1), reader.GetString(2)));
        }

        return cancelled;
    }

    // Finished jobs past their outcome's retention, oldest first; a job whose outbox rows are not yet published stays.
    private const string Prunable =
        "SELECT id, status FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled') " +
        "AND finished_at < now() - CASE status WHEN 'succeeded' THEN @keep_succeeded WHEN 'failed' THEN @keep_failed ELSE @keep_cancelled END " +
        "AND NOT EXISTS (SELECT 1 FROM outbox_messages o WHERE o.job_id = jobs.id)";

    /// <summary>
    /// Retention: deletes one batch of finished jobs older than their outcome's retention, with their timeline events
    /// (the foreign key cascades). Rows another transaction holds are skipped; the statement's locks last only as long as
    /// it does. Returns how many of each status went.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, int>> PruneFinishedAsync(Control.RetentionOptions retention, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "WITH doomed AS (" + Prunable + " ORDER BY finished_at LIMIT @batch FOR UPDATE SKIP LOCKED), " +
            "d AS (DELETE FROM jobs j USING doomed WHERE j.id = doomed.id RETURNING j.status) " +
            "SELECT status, count(*)::int FROM d GROUP BY status");
        BindRetention(command.Parameters, retention);
        command.Parameters.Add(new NpgsqlParameter("batch", NpgsqlDbType.Integer) { Value = Math.Max(1, retention.BatchSize) });
        return await ReadCountsAsync(command, cancellationToken);
    }

    /// <summary>What <see cref="PruneFinishedAsync"/> would delete now, counted by status (for <c>consumers prune --dry-run</c>).</summary>
    public async Task<IReadOnlyDictionary<string, int>> CountPrunableAsync(Control.RetentionOptions retention, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT status, count(*)::int FROM (" + Prunable + ") p GROUP BY status");
        BindRetention(command.Parameters, retention);
        return await ReadCountsAsync(command, cancellationToken);
    }

    private static void BindRetention(NpgsqlParameterCollection parameters, Control.RetentionOptions retention)
    {
        parameters.Add(new NpgsqlParameter("keep_succeeded", NpgsqlDbType.Interval) { Value = retention.Succeeded });
        parameters.Add(new NpgsqlParameter("keep_failed", NpgsqlDbType.Interval) { Value = retention.Failed });
        parameters.Add(new NpgsqlParameter("keep_cancelled", NpgsqlDbType.Interval) { Value = retention.Cancelled });
    }

    private static async Task<IReadOnlyDictionary<string, int>> ReadCountsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[reader.GetString(0)] = reader.GetInt32(1);
        }

        return counts;
    }

    /// <summary>The notification channel of operator actions (cancel requests, pauses); payloads are <c>cancel:&lt;job id&gt;</c> and <c>pauses</c>.</summary>
    public const string ControlChannel = "consumers_control";

    private static void BindCancelRequest(NpgsqlParameterCollection parameters, string? reason, string? by)
    {
        parameters.Add(new NpgsqlParameter("reason", NpgsqlDbType.Varchar) { Value = (object?)Control.ControlLimits.Clip(reason, Control.ControlLimits.Reason) ?? DBNull.Value });
        parameters.Add(new NpgsqlParameter("by", NpgsqlDbType.Varchar) { Value = (object?)Control.ControlLimits.Clip(by, Control.ControlLimits.By) ?? DBNull.Value });
        var trace = System.Diagnostics.Activity.Current;
        parameters.Add(new NpgsqlParameter("trace_parent", NpgsqlDbType.Text)
        {
            Value = trace is { IdFormat: System.Diagnostics.ActivityIdFormat.W3C } ? trace.Id! : DBNull.Value,
        });
    }

    private async Task<bool> FencedAsync(
        JobLease lease,
        string set,
        IReadOnlyList<TimelineEntry> events,
        bool dispatchRequest,
        Action<NpgsqlParameterCollection>? bind,
        CancellationToken cancellationToken)
    {
        var rowSource = "UPDATE jobs SET " + set + ", last_event_seq = last_event_seq + " + events.Count + ", updated_at = now()" +
                        ProcessingGuard + TransitionSql.Returning;
        await using var command = dataSource.CreateCommand(TransitionSql.Build(rowSource, events.Count, dispatchRequest));
        BindLease(command.Parameters, lease);
        BindEvents(command.Parameters, events);
        bind?.Invoke(command.Parameters);
        if (dispatchRequest)
        {
            BindJobQueue(command.Parameters);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken);
    }

    internal static TimelineEntry RequestedEntry(JobRequested request) =>
        new(TimelineEventTypes.Requested, new Dictionary<string, string>
        {
            ["stage"] = request.Stage,
            ["outputKey"] = request.OutputKey,
        }, Attempt: 0);

    private static TimelineEntry StartedEntry(AcquireSettings settings, int? attempt) =>
        new(TimelineEventTypes.Started, new Dictionary<string, string> { ["worker"] = settings.Owner }, attempt);

    private static JobLease ReadLease(NpgsqlDataReader reader) =>
        new(reader.GetGuid(0), reader.GetString(1), reader.GetInt32(2), reader.GetInt64(3), reader.GetInt32(5), reader.GetInt32(6), reader.GetInt32(8));

    private static void BindLease(NpgsqlParameterCollection parameters, JobLease lease)
    {
        parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = lease.JobId });
        parameters.Add(new NpgsqlParameter("token", NpgsqlDbType.Bigint) { Value = lease.Token });
    }

    private static void BindRequest(NpgsqlParameterCollection parameters, JobRequested request, int maxAttempts)
    {
        parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = request.JobId });
        // Columns hold at most their length; an oversized field fails validation later, and the full request stays in request.
        parameters.Add(new NpgsqlParameter("stage", NpgsqlDbType.Text) { Value = Clip(request.Stage, JobRequestLimits.Stage) });
        parameters.Add(new NpgsqlParameter("source", NpgsqlDbType.Text) { Value = Clip(request.Source, JobRequestLimits.Source) });
        parameters.Add(new NpgsqlParameter("output_key", NpgsqlDbType.Text) { Value = Clip(request.OutputKey, JobRequestLimits.OutputKey) });
        parameters.Add(new NpgsqlParameter("clip", NpgsqlDbType.Double) { Value = (object?)request.ClipDurationSeconds ?? DBNull.Value });
        parameters.Add(new NpgsqlParameter("request", NpgsqlDbType.Text) { Value = JsonSerializer.Serialize(request, ContractJson.Options) });
        parameters.Add(new NpgsqlParameter("max_attempts", NpgsqlDbType.Integer) { Value = maxAttempts });
    }

    private void BindJobQueue(NpgsqlParameterCollection parameters) =>
        parameters.Add(new NpgsqlParameter("job_queue", NpgsqlDbType.Text) { Value = jobQueue.Value });

    private static string Clip(string? value, int length) =>
        value is null ? "" : StorableText.Truncate(value, length);

    private static void BindAcquire(NpgsqlParameterCollection parameters, AcquireSettings settings)
    {
        parameters.Add(new NpgsqlParameter("owner", NpgsqlDbType.Text) { Value = settings.Owner });
        parameters.Add(new NpgsqlParameter("lease_seconds", NpgsqlDbType.Integer) { Value = settings.LeaseTimeoutSeconds });
        parameters.Add(new NpgsqlParameter("deadline_seconds", NpgsqlDbType.Double) { Value = settings.DeadlineSeconds });
    }

    private static void BindError(NpgsqlParameterCollection parameters, string code, string message)
    {
        parameters.Add(new NpgsqlParameter("code", NpgsqlDbType.Text) { Value = code });
        parameters.Add(new NpgsqlParameter("message", NpgsqlDbType.Text) { Value = message });
    }

    private static void BindEvents(NpgsqlParameterCollection parameters, IReadOnlyList<TimelineEntry> events)
    {
        // The outbox rows remember the trace of the work that wrote them, so their publish joins it.
        var trace = System.Diagnostics.Activity.Current;
        parameters.Add(new NpgsqlParameter("trace_parent", NpgsqlDbType.Text)
        {
            Value = trace is { IdFormat: System.Diagnostics.ActivityIdFormat.W3C } ? trace.Id! : DBNull.Value,
        });

        for (var i = 0; i < events.Count; i++)
        {
            var entry = events[i];
            parameters.Add(new NpgsqlParameter("type" + (i + 1), NpgsqlDbType.Text) { Value = entry.Type });
            parameters.Add(new NpgsqlParameter("data" + (i + 1), NpgsqlDbType.Text) { Value = JsonSerializer.Serialize(entry.Data, ContractJson.Options) });
            parameters.Add(new NpgsqlParameter("attempt" + (i + 1), NpgsqlDbType.Integer) { Value = (object?)entry.Attempt ?? DBNull.Value });
        }
    }
}
