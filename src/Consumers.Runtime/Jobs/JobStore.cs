using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Jobs.Sql;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Progress;
using Consumers.Runtime.Timeline;
using Npgsql;
using NpgsqlTypes;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// The job state machine. Every method is one round trip: one statement (or one batch) that changes the row,
/// appends the timeline and queues outbox messages together. Writes of an attempt are fenced by its lease
/// token: when the token no longer matches, nothing is written and the method says so. The statements are named
/// in <c>Jobs/Sql</c>; this class binds them and reads their results.
/// </summary>
public sealed class JobStore : IHeartbeatStore, IProgressStore, Scratch.IAttemptStates
{
    private readonly SqlTarget db;
    private readonly JobQueueName jobQueue;

    public JobStore(NpgsqlDataSource dataSource, JobQueueName jobQueue)
        : this(new SqlTarget(dataSource), jobQueue)
    {
    }

    /// <summary>Runs every statement on <paramref name="target"/> (for example one connection inside a test's transaction).</summary>
    internal JobStore(SqlTarget target, JobQueueName jobQueue)
    {
        db = target;
        this.jobQueue = jobQueue;
    }

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

        await using var command = db.Command(JobSql.Submit);
        BindRequest(command.Parameters, request, maxAttempts);
        command.Parameters.Events([TimelineEntries.Requested(request)]);
        BindJobQueue(command.Parameters);
        return await AnyRowAsync(command, cancellationToken);
    }

    /// <summary>
    /// Takes the lease of a delivered job: creates the row already in <c>processing</c> when the id is new,
    /// otherwise moves a due <c>queued</c> row to <c>processing</c> (a suspect one only when the caller runs it
    /// alone, <see cref="AcquireSettings.RunsAlone"/>). One statement in the common case (<see cref="JobSql.Acquire"/>);
    /// at most one attempt across all workers wins. A delivery that won nothing and found a pending cancel on a queued
    /// row, or found no row it could see, takes a second round trip (<see cref="ReadStateAsync"/>).
    /// </summary>
    public async Task<AcquireOutcome> AcquireAsync(JobRequested request, AcquireSettings settings, CancellationToken cancellationToken)
    {
        await using (var command = db.Command(JobSql.Acquire))
        {
            BindRequest(command.Parameters, request, request.MaxAttempts ?? settings.DefaultMaxAttempts);
            BindAcquire(command.Parameters, settings);
            command.Parameters.Value("runs_alone", NpgsqlDbType.Boolean, settings.RunsAlone)
                .Events([TimelineEntries.Requested(request), TimelineEntries.Started(settings.Owner, attempt: null)]);

            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                if (reader.Column<bool>("won"))
                {
                    return AcquireOutcome.Won(ReadLease(reader));
                }

                if (!reader.Column<bool>("cancel_pending"))
                {
                    return NotAcquired(reader, settings);
                }
            }
        }

        return await ReadStateAsync(request.JobId, settings, cancellationToken);
    }

    /// <summary>
    /// The acquire's rare path: a queued job whose cancel raced its way back to the queue (a retry or requeue written as
    /// the cancel came) ends here instead of running, since a cancelled job never runs again, whatever is delivered; then
    /// the row is read again with a fresh snapshot (it may have been created after the acquire's snapshot).
    /// </summary>
    private async Task<AcquireOutcome> ReadStateAsync(Guid jobId, AcquireSettings settings, CancellationToken cancellationToken)
    {
        await using var batch = db.Batch();
        var pendingCancel = new NpgsqlBatchCommand(CancelSql.CancelPendingQueued);
        BindCancelRequest(pendingCancel.Parameters.Id(jobId), null, null);
        batch.BatchCommands.Add(pendingCancel);
        var state = new NpgsqlBatchCommand(JobSql.AcquireState);
        state.Parameters.Id(jobId);
        batch.BatchCommands.Add(state);

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? NotAcquired(reader, settings)
            // Cannot happen: the acquire either created the row or found it. Be explicit all the same.
            : new AcquireOutcome(AcquireOutcomeKind.HeldElsewhere, null, null);
    }

    private static AcquireOutcome NotAcquired(NpgsqlDataReader reader, AcquireSettings settings)
    {
        var currentStatus = reader.Column<string>("status")!;
        var kind = currentStatus switch
        {
            JobStatuses.Succeeded or JobStatuses.Failed or JobStatuses.Cancelled => AcquireOutcomeKind.AlreadyFinished,
            JobStatuses.Queued when reader.Column<bool>("not_due") => AcquireOutcomeKind.NotDue,
            JobStatuses.Queued when reader.Column<bool>("suspect") && !settings.RunsAlone => AcquireOutcomeKind.Suspect,
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
        await using var command = db.Command(JobSql.Reject);
        BindRequest(command.Parameters, sanitized, maxAttempts);
        command.Parameters.Text("code", code).Text("message", message);
        command.Parameters.Events([TimelineEntries.Requested(sanitized), TimelineEntries.Rejected(code, message, field)]);
        return await AnyRowAsync(command, cancellationToken);
    }

    /// <summary>
    /// Hands a suspect job's delivery back through the database: a worker that cannot run it alone now marks the
    /// queued job undispatched, and the recovery sweep sends its <c>JobRequested</c> again on its next round. No event:
    /// nothing happened to the job. False when it is no longer queued.
    /// </summary>
    public async Task<bool> DeferDispatchAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = db.Command(JobSql.DeferDispatch);
        command.Parameters.Id(jobId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>True while this attempt still holds the lease; checked right before an artifact is moved into place.</summary>
    /// <summary>Whether <paramref name="lease"/>'s attempt still runs and a cancel of its job is recorded (a read, no lock).</summary>
    public async Task<bool> IsCancelRequestedAsync(JobLease lease, CancellationToken cancellationToken)
    {
        await using var command = db.Command(CancelSql.RequestedFor);
        command.Parameters.Lease(lease);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    public async Task<bool> IsLeaseHeldAsync(JobLease lease, CancellationToken cancellationToken)
    {
        await using var command = db.Command(JobSql.LeaseHeld);
        command.Parameters.Lease(lease);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    /// <summary>
    /// Whether this attempt already wrote <paramref name="entry"/> (same type, attempt and data): after a write whose
    /// connection broke, it tells a commit that landed from one that did not. Only this attempt writes its own data.
    /// </summary>
    public async Task<bool> HasWrittenAsync(JobLease lease, TimelineEntry entry, CancellationToken cancellationToken)
    {
        await using var command = db.Command(JobSql.HasWritten);
        command.Parameters.Id(lease.JobId)
            .Value("attempt", NpgsqlDbType.Integer, entry.Attempt ?? lease.Attempt)
            .Text("type", entry.Type)
            .Text("data", JsonSerializer.Serialize(entry.Data, ContractJson.Options));
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>Appends a <c>progress</c> event and stores the percent.</summary>
    public Task<bool> AppendProgressAsync(JobLease lease, int percent, CancellationToken cancellationToken) =>
        FencedAsync(JobSql.Progress, lease, [TimelineEntries.Progress(percent)],
            p => p.Value("percent", NpgsqlDbType.Integer, percent), cancellationToken);

    /// <summary>
    /// Finishes the attempt as <c>succeeded</c> with its artifact and <paramref name="result"/> (what the stage found, JSON, or
    /// null); <paramref name="events"/> end with <c>completed</c> or <c>skipped</c>. A pipeline step's dependents are
    /// dispatched in the same transaction (<see cref="PipelineSql.AdvanceOfJob"/>).
    /// </summary>
    public Task<bool> SucceedAsync(JobLease lease, ArtifactRecord artifact, IReadOnlyList<TimelineEntry> events, CancellationToken cancellationToken,
        string? result = null) =>
        FinalAsync(JobSql.Succeed, lease, events, p => p
            .Text("artifact_key", artifact.Key)
            .Value("artifact_size", NpgsqlDbType.Bigint, artifact.Size)
            .Text("artifact_sha256", artifact.Sha256)
            .Text("result", result), cancellationToken);

    /// <summary>
    /// Finishes several attempts as <c>succeeded</c> in one statement (<see cref="JobSql.SucceedMany"/>), each fenced by its
    /// own lease token: returns the jobs written; one missing from it lost its lease and nothing of it was written. Only
    /// for jobs that are not pipeline steps (a step's success advances its pipeline: <see cref="SucceedAsync"/>), and
    /// each job at most once.
    /// </summary>
    public async Task<IReadOnlySet<Guid>> SucceedManyAsync(IReadOnlyList<Completion> completions, CancellationToken cancellationToken)
    {
        var events = completions.SelectMany(c => c.Events.Select((e, i) => (c.Lease.JobId, Entry: e, Ord: i + 1L))).ToList();
        await using var command = db.Command(JobSql.SucceedMany);
        command.Parameters
            .Value("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid, completions.Select(c => c.Lease.JobId).ToArray())
            .Value("tokens", NpgsqlDbType.Array | NpgsqlDbType.Bigint, completions.Select(c => c.Lease.Token).ToArray())
            .Value("artifact_keys", NpgsqlDbType.Array | NpgsqlDbType.Text, completions.Select(c => c.Artifact.Key).ToArray())
            .Value("artifact_sizes", NpgsqlDbType.Array | NpgsqlDbType.Bigint, completions.Select(c => c.Artifact.Size).ToArray())
            .Value("artifact_sha256s", NpgsqlDbType.Array | NpgsqlDbType.Text, completions.Select(c => c.Artifact.Sha256).ToArray())
            .Value("results", NpgsqlDbType.Array | NpgsqlDbType.Text, completions.Select(c => c.Result).ToArray())
            .Value("trace_parents", NpgsqlDbType.Array | NpgsqlDbType.Text, completions.Select(c => c.TraceParent).ToArray())
            .Value("event_counts", NpgsqlDbType.Array | NpgsqlDbType.Integer, completions.Select(c => c.Events.Count).ToArray())
            .Value("event_job_ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid, events.Select(e => e.JobId).ToArray())
            .Value("event_types", NpgsqlDbType.Array | NpgsqlDbType.Text, events.Select(e => e.Entry.Type).ToArray())
            .Value("event_data", NpgsqlDbType.Array | NpgsqlDbType.Text,
                events.Select(e => JsonSerializer.Serialize(e.Entry.Data, ContractJson.Options)).ToArray())
            .Value("event_attempts", NpgsqlDbType.Array | NpgsqlDbType.Integer, events.Select(e => e.Entry.Attempt).ToArray())
            .Value("event_ords", NpgsqlDbType.Array | NpgsqlDbType.Bigint, events.Select(e => e.Ord).ToArray());

        var written = new HashSet<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            written.Add(reader.Column<Guid>("id"));
        }

        return written;
    }

    /// <summary>Finishes a segment job as <c>succeeded</c> with no artifact (its parts are in its parent's checkpoint); its parent may be dispatched.</summary>
    public Task<bool> SucceedWithoutArtifactAsync(JobLease lease, IReadOnlyList<TimelineEntry> events, CancellationToken cancellationToken) =>
        FinalAsync(JobSql.Succeed, lease, events, p => p
            .Text("artifact_key", null)
            .Value<long?>("artifact_size", NpgsqlDbType.Bigint, null)
            .Text("artifact_sha256", null)
            .Text("result", null), cancellationToken);

    /// <summary>Ends the job as <c>failed</c> with its code; a pipeline step's dependents are skipped in the same transaction.</summary>
    public Task<bool> FailAsync(JobLease lease, string code, string message, IReadOnlyList<TimelineEntry> events, CancellationToken cancellationToken) =>
        FinalAsync(JobSql.Fail, lease, events, p => p.Text("code", code).Text("message", message), cancellationToken);

    /// <summary>
    /// Puts the job back to <c>queued</c> until <paramref name="notBefore"/>; the dispatcher sends it again
    /// then (no broker-side delay exists on this RabbitMQ). An uncharged retry does not count against the attempts.
    /// </summary>
    public Task<bool> ScheduleRetryAsync(JobLease lease, string code, string message, DateTimeOffset notBefore, bool chargeAttempt,
        IReadOnlyList<TimelineEntry> events, CancellationToken cancellationToken) =>
        FencedAsync(JobSql.ScheduleRetry, lease, events, p => p
            .Text("code", code)
            .Text("message", message)
            .Value("not_before", NpgsqlDbType.TimestampTz, notBefore.UtcDateTime)
            .Value("charge", NpgsqlDbType.Boolean, chargeAttempt), cancellationToken);

    /// <summary>
    /// Gives the job back at once (shutdown), optionally without charging the attempt, and queues a fresh
    /// <c>JobRequested</c> so another worker starts it without waiting for the recovery sweep.
    /// </summary>
    public Task<bool> RequeueAsync(JobLease lease, bool chargeAttempt, IReadOnlyList<TimelineEntry> events, CancellationToken cancellationToken) =>
        FencedAsync(JobSql.Requeue, lease, events, p =>
        {
            p.Value("charge", NpgsqlDbType.Boolean, chargeAttempt);
            BindJobQueue(p);
        }, cancellationToken);

    /// <summary>
    /// Fans the attempt out: in one transaction the job gives its lease back and waits, uncharged (<paramref name="events"/>
    /// end with <c>waiting</c>), and its <paramref name="segmentJobs"/> are created, queued and dispatched, each with its
    /// <c>requested</c> event. Fenced by the token, and refused while a cancel is pending: false then, nothing written.
    /// </summary>
    public async Task<bool> WaitForSegmentJobsAsync(JobLease lease, IReadOnlyList<JobRequested> segmentJobs, IReadOnlyList<TimelineEntry> events,
        CancellationToken cancellationToken)
    {
        await using var batch = db.Batch();
        var wait = new NpgsqlBatchCommand(FanOutSql.Wait);
        wait.Parameters.Lease(lease).Events(events);
        batch.BatchCommands.Add(wait);
        var create = new NpgsqlBatchCommand(FanOutSql.CreateSegmentJobs);
        create.Parameters.Lease(lease)
            .Value("segment_ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid, segmentJobs.Select(j => j.JobId).ToArray())
            .Value("segment_requests", NpgsqlDbType.Array | NpgsqlDbType.Text, segmentJobs.Select(j => JsonSerializer.Serialize(j, ContractJson.Options)).ToArray())
            .Value("segment_clips", NpgsqlDbType.Array | NpgsqlDbType.Double, segmentJobs.Select(j => j.ClipDurationSeconds ?? 0).ToArray())
            .TraceParent();
        BindJobQueue(create.Parameters);
        batch.BatchCommands.Add(create);
        return await FirstResultHasRowAsync(batch, cancellationToken);
    }

    /// <summary>
    /// The sweep's part of fan-outs: dispatches again up to <paramref name="batchSize"/> waiting jobs whose segment jobs
    /// have all finished without releasing them. Returns their ids.
    /// </summary>
    public async Task<IReadOnlyList<Guid>> ReleaseStalledFanOutsAsync(int batchSize, CancellationToken cancellationToken)
    {
        await using var command = db.Command(FanOutSql.ReleaseStalled);
        command.Parameters.Value("batch", NpgsqlDbType.Integer, batchSize).TraceParent();
        BindJobQueue(command.Parameters);
        var released = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            released.Add(reader.Column<Guid>("id"));
        }

        return released;
    }

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
        await using var command = db.Command(JobSql.Heartbeat);
        command.Parameters
            .Value("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid, leases.Select(l => l.JobId).ToArray())
            .Value("tokens", NpgsqlDbType.Array | NpgsqlDbType.Bigint, leases.Select(l => l.Token).ToArray())
            .Value("progress", NpgsqlDbType.Array | NpgsqlDbType.Integer, leases.Select(l => l.ProgressPercent).ToArray());
        // Npgsql's own bound (whole seconds) behind the caller's token: a beat must give up well inside the lease.
        command.CommandTimeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.Column<Guid>("id");
            alive.Add(id);
            if (reader.Column<bool>("cancel_requested"))
            {
                cancelRequested.Add(id);
            }
        }

        return new HeartbeatResult(alive, cancelRequested);
    }

    /// <summary>
    /// Asks for a job to be cancelled, in one transaction: a waiting job (queued, or queued for a retry) ends as
    /// <c>cancelled</c> at once with its event; a running one gets the request recorded on its row, which its worker reads
    /// within half a second (Control's poll) or at its next heartbeat. A finished job is
    /// left alone. Repeating the request changes nothing.
    /// </summary>
    public async Task<CancelOutcome> RequestCancelAsync(Guid jobId, string? reason, string by, CancellationToken cancellationToken)
    {
        // A row can move between the statements (a retry puts a running job back in the queue): look again then.
        for (var round = 0; ; round++)
        {
            await using var batch = db.Batch();
            var cancelQueued = new NpgsqlBatchCommand(CancelSql.CancelQueued);
            BindCancelRequest(cancelQueued.Parameters.Id(jobId), reason, by);
            batch.BatchCommands.Add(cancelQueued);
            var running = new NpgsqlBatchCommand(CancelSql.MarkRunning);
            BindCancelRequest(running.Parameters.Id(jobId), reason, by);
            batch.BatchCommands.Add(running);
            var state = new NpgsqlBatchCommand(CancelSql.CancelState);
            state.Parameters.Id(jobId);
            batch.BatchCommands.Add(state);
            // A fanned-out transcode that is now cancelled takes its segment jobs with it (read after the state: nothing to report).
            var segmentJobs = new NpgsqlBatchCommand(CancelSql.CancelQueuedSegmentJobs);
            BindCancelRequest(segmentJobs.Parameters.Id(jobId), reason, by);
            batch.BatchCommands.Add(segmentJobs);
            var runningSegmentJobs = new NpgsqlBatchCommand(CancelSql.MarkRunningSegmentJobs);
            BindCancelRequest(runningSegmentJobs.Parameters.Id(jobId), reason, by);
            batch.BatchCommands.Add(runningSegmentJobs);

            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            var cancelled = await reader.ReadAsync(cancellationToken);
            var stoppedWhere = cancelled ? reader.Column<string>("stopped_where") : null;
            await reader.NextResultAsync(cancellationToken);
            var requested = await reader.ReadAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return new CancelOutcome(CancelOutcomeKind.Missing, null, null);
            }

            var current = reader.Column<string>("status")!;
            var stage = reader.Column<string>("stage");
            if (cancelled)
            {
                return new CancelOutcome(CancelOutcomeKind.Cancelled, stage, current, stoppedWhere);
            }

            if (requested)
            {
                return new CancelOutcome(CancelOutcomeKind.Requested, stage, current);
            }

            if (JobStatuses.IsTerminal(current))
            {
                return new CancelOutcome(CancelOutcomeKind.Finished, stage, current);
            }

            if (reader.Column<bool>("pending") || round >= 3)
            {
                // Pending on a queued row too: the next acquire or sweep ends it; it cannot start again.
                return new CancelOutcome(CancelOutcomeKind.AlreadyRequested, stage, current);
            }
        }
    }

    /// <summary>
    /// Ends the running attempt of a job whose cancel was asked for as <c>cancelled</c> (<c>where</c> = running),
    /// fenced by the attempt's token. False when the lease is gone or no cancel is recorded on the row.
    /// </summary>
    public async Task<bool> CancelRunningAsync(JobLease lease, CancellationToken cancellationToken)
    {
        await using var batch = db.Batch();
        var cancel = new NpgsqlBatchCommand(CancelSql.CancelRunning);
        BindCancelRequest(cancel.Parameters.Lease(lease), null, null);
        batch.BatchCommands.Add(cancel);
        AddFollowUps(batch, lease);
        return await FirstResultHasRowAsync(batch, cancellationToken);
    }

    /// <summary>
    /// The sweep's part of cancelling: ends one batch of jobs whose cancel cannot reach a worker, queued rows with a
    /// pending request (a retry or requeue crossed it) and running rows whose worker stopped heartbeating
    /// or ran past their deadline (a stage that ignores its stop; <c>where</c> = abandoned). Rows another transaction
    /// holds are left for the next sweep.
    /// </summary>
    public async Task<IReadOnlyList<CancelledJob>> CancelAbandonedAsync(int batchSize, CancellationToken cancellationToken)
    {
        await using var command = db.Command(CancelSql.CancelAbandoned);
        BindCancelRequest(command.Parameters.Value("batch", NpgsqlDbType.Integer, batchSize), null, null);
        var cancelled = new List<CancelledJob>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            cancelled.Add(new CancelledJob(reader.Column<Guid>("id"), reader.Column<string>("stage")!, reader.Column<string>("stopped_where")!));
        }

        return cancelled;
    }

    /// <summary>
    /// Retention: deletes one batch of finished jobs older than their outcome's retention, with their timeline events
    /// (the foreign key cascades). Rows another transaction holds are skipped; the statement's locks last only as long as
    /// it does. Returns how many of each status went.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, int>> PruneFinishedAsync(Control.RetentionOptions retention, CancellationToken cancellationToken)
    {
        await using var command = db.Command(RetentionSql.PruneFinished);
        BindRetention(command.Parameters, retention);
        command.Parameters.Value("batch", NpgsqlDbType.Integer, Math.Max(1, retention.BatchSize));
        return await ReadCountsAsync(command, cancellationToken);
    }

    /// <summary>What <see cref="PruneFinishedAsync"/> would delete now, counted by status (for <c>consumers prune --dry-run</c>).</summary>
    public async Task<IReadOnlyDictionary<string, int>> CountPrunableAsync(Control.RetentionOptions retention, CancellationToken cancellationToken)
    {
        await using var command = db.Command(RetentionSql.CountPrunable);
        BindRetention(command.Parameters, retention);
        return await ReadCountsAsync(command, cancellationToken);
    }

    /// <summary>The status and attempt count of each of <paramref name="jobIds"/> that exists (what the scratch janitor keeps or removes).</summary>
    public async Task<IReadOnlyDictionary<Guid, (string Status, int Attempt)>> AttemptStatesAsync(IReadOnlyCollection<Guid> jobIds, CancellationToken cancellationToken)
    {
        var states = new Dictionary<Guid, (string Status, int Attempt)>();
        await using var command = db.Command(JobSql.AttemptStates);
        command.Parameters.Value("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid, jobIds.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            states[reader.Column<Guid>("id")] = (reader.Column<string>("status")!, reader.Column<int>("attempt_count"));
        }

        return states;
    }

    private static void BindRetention(NpgsqlParameterCollection parameters, Control.RetentionOptions retention) => parameters
        .Value("keep_succeeded", NpgsqlDbType.Interval, retention.Succeeded)
        .Value("keep_failed", NpgsqlDbType.Interval, retention.Failed)
        .Value("keep_cancelled", NpgsqlDbType.Interval, retention.Cancelled);

    private static async Task<IReadOnlyDictionary<string, int>> ReadCountsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts[reader.Column<string>("status")!] = reader.Column<int>("count");
        }

        return counts;
    }

    private static void BindCancelRequest(NpgsqlParameterCollection parameters, string? reason, string? by)
    {
        parameters.Add(new NpgsqlParameter("reason", NpgsqlDbType.Varchar) { Value = (object?)Control.ControlLimits.Clip(reason, Control.ControlLimits.Reason) ?? DBNull.Value });
        parameters.Add(new NpgsqlParameter("by", NpgsqlDbType.Varchar) { Value = (object?)Control.ControlLimits.Clip(by, Control.ControlLimits.By) ?? DBNull.Value });
        parameters.TraceParent();
    }

    private async Task<bool> FencedAsync(string statement, JobLease lease, IReadOnlyList<TimelineEntry> events,
        Action<NpgsqlParameterCollection> bind, CancellationToken cancellationToken)
    {
        await using var command = db.Command(statement);
        command.Parameters.Lease(lease).Events(events);
        bind(command.Parameters);
        return await AnyRowAsync(command, cancellationToken);
    }

    /// <summary>
    /// A final write of an attempt and, for a pipeline step (<see cref="JobLease.PipelineId"/>), in the same implicit
    /// transaction the advance of its pipeline: the pipeline's lock first, so the advance's fresh snapshot sees every other
    /// step's outcome. A job that is not a step is the write alone.
    /// </summary>
    private async Task<bool> FinalAsync(string statement, JobLease lease, IReadOnlyList<TimelineEntry> events,
        Action<NpgsqlParameterCollection> bind, CancellationToken cancellationToken)
    {
        if (lease.PipelineId is null && lease.ParentJobId is null)
        {
            return await FencedAsync(statement, lease, events, bind, cancellationToken);
        }

        await using var batch = db.Batch();
        var write = new NpgsqlBatchCommand(statement);
        write.Parameters.Lease(lease).Events(events);
        bind(write.Parameters);
        batch.BatchCommands.Add(write);
        AddFollowUps(batch, lease);
        return await FirstResultHasRowAsync(batch, cancellationToken);
    }

    /// <summary>What a final write of a pipeline step or a segment job adds in its transaction; nothing for any other job.</summary>
    private void AddFollowUps(NpgsqlBatch batch, JobLease lease)
    {
        if (lease.PipelineId is not null)
        {
            AddPipelineAdvance(batch, lease.JobId);
        }

        if (lease.ParentJobId is not null)
        {
            AddParentRelease(batch, lease.JobId);
        }
    }

    /// <summary>
    /// A segment job's final write dispatches its waiting parent when it was the last to finish: the parent's lock first,
    /// so the release's fresh snapshot sees every other segment job's outcome (nothing for any other job).
    /// </summary>
    private void AddParentRelease(NpgsqlBatch batch, Guid jobId)
    {
        var lockParent = new NpgsqlBatchCommand(FanOutSql.LockParentOfJob);
        lockParent.Parameters.Id(jobId);
        batch.BatchCommands.Add(lockParent);
        var release = new NpgsqlBatchCommand(FanOutSql.ReleaseParentOfJob);
        release.Parameters.Id(jobId).TraceParent();
        BindJobQueue(release.Parameters);
        batch.BatchCommands.Add(release);
    }

    private void AddPipelineAdvance(NpgsqlBatch batch, Guid jobId)
    {
        var lockPipeline = new NpgsqlBatchCommand(PipelineSql.LockOfJob);
        lockPipeline.Parameters.Id(jobId);
        batch.BatchCommands.Add(lockPipeline);
        var advance = new NpgsqlBatchCommand(PipelineSql.AdvanceOfJob);
        advance.Parameters.Id(jobId).TraceParent();
        BindJobQueue(advance.Parameters);
        batch.BatchCommands.Add(advance);
    }

    private static async Task<bool> FirstResultHasRowAsync(NpgsqlBatch batch, CancellationToken cancellationToken)
    {
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var any = await reader.ReadAsync(cancellationToken);
        // The remaining results are read so the whole batch's errors surface here.
        while (await reader.NextResultAsync(cancellationToken))
        {
        }

        return any;
    }

    private static async Task<bool> AnyRowAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken);
    }

    private static JobLease ReadLease(NpgsqlDataReader reader) =>
        new(reader.Column<Guid>("id"), reader.Column<string>("stage")!, reader.Column<int>("attempt_count"), reader.Column<long>("lease_token"),
            reader.Column<int>("max_attempts"), reader.Column<int>("lease_timeout_seconds"), reader.Column<int>("uncharged_attempts"),
            reader.Column<Guid?>("pipeline_id"), reader.Column<Guid?>("parent_job_id"));

    private static void BindRequest(NpgsqlParameterCollection parameters, JobRequested request, int maxAttempts) => parameters
        .Id(request.JobId)
        // Columns hold at most their length; an oversized field fails validation later, and the full request stays in request.
        .Text("stage", Clip(request.Stage, JobRequestLimits.Stage))
        .Text("source", Clip(request.Source, JobRequestLimits.Source))
        .Text("output_key", Clip(request.OutputKey, JobRequestLimits.OutputKey))
        .Value("clip", NpgsqlDbType.Double, request.ClipDurationSeconds)
        .Value("priority", NpgsqlDbType.Integer, request.Priority)
        .Text("request", JsonSerializer.Serialize(request, ContractJson.Options))
        .Value("max_attempts", NpgsqlDbType.Integer, maxAttempts);

    private void BindJobQueue(NpgsqlParameterCollection parameters) => parameters.Text("job_queue", jobQueue.Value);

    private static string Clip(string? value, int length) =>
        value is null ? "" : StorableText.Truncate(value, length);

    private static void BindAcquire(NpgsqlParameterCollection parameters, AcquireSettings settings) => parameters
        .Text("owner", settings.Owner)
        .Value("lease_seconds", NpgsqlDbType.Integer, settings.LeaseTimeoutSeconds)
        .Value("deadline_seconds", NpgsqlDbType.Double, settings.DeadlineSeconds);
}
