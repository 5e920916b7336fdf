using Consumers.Contracts;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Jobs.Sql;
using Npgsql;
using NpgsqlTypes;

namespace Consumers.Runtime.Recovery;

/// <summary>
/// Runs the sweep's statements (<see cref="SweepSql"/>): one statement per batch, rows locked with
/// <c>FOR UPDATE SKIP LOCKED</c>, every change written with its timeline event and outbox messages by the same
/// transition builder as <see cref="Jobs.JobStore"/>.
/// </summary>
public sealed class RecoveryStore
{
    private readonly SqlTarget db;
    private readonly JobQueueName jobQueue;

    public RecoveryStore(NpgsqlDataSource dataSource, JobQueueName jobQueue)
        : this(new SqlTarget(dataSource), jobQueue)
    {
    }

    /// <summary>Runs every statement on <paramref name="target"/> (for example one connection inside a test's transaction).</summary>
    internal RecoveryStore(SqlTarget target, JobQueueName jobQueue)
    {
        db = target;
        this.jobQueue = jobQueue;
    }

    /// <summary>Requeues (or fails, or quarantines) one batch of processing jobs whose attempt is dead or hung.</summary>
    public async Task<IReadOnlyList<RecoveredJob>> RecoverStaleAsync(RecoveryOptions options, double minLeaseSeconds, bool dryRun, CancellationToken cancellationToken)
    {
        await using var command = db.Command(dryRun ? SweepSql.StaleCandidates : SweepSql.RecoverStale);
        command.Parameters
            .Value("enforce", NpgsqlDbType.Boolean, options.EnforceAttemptLimits)
            .Value("quarantine_after", NpgsqlDbType.Integer, Math.Max(1, options.QuarantineAfterLeaseExpiries))
            .Value("min_lease", NpgsqlDbType.Double, minLeaseSeconds)
            .Value("batch", NpgsqlDbType.Integer, options.BatchSize);
        if (!dryRun)
        {
            command.Parameters
                .Text("exhausted_code", ErrorCodes.RetriesExhausted)
                .Text("quarantined_code", ErrorCodes.Quarantined)
                .Text("lease_lost_code", ErrorCodes.LeaseLost)
                .Text("job_queue", jobQueue.Value)
                .TraceParent();
        }

        var recovered = new List<RecoveredJob>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var outcome = reader.Column<bool>("exhausted") ? "exhausted"
                : reader.Column<bool>("quarantined") ? "quarantined"
                : reader.Column<bool>("hung") ? "requeued_hung"
                : "requeued_stale";
            recovered.Add(new RecoveredJob(reader.Column<Guid>("id"), outcome, reader.Column<string>("previous_worker")));
        }

        return recovered;
    }

    /// <summary>Sends the JobRequested of one batch of queued jobs whose retry backoff has passed (or whose message went missing).</summary>
    public async Task<IReadOnlyList<RecoveredJob>> DispatchDueAsync(RecoveryOptions options, bool dryRun, CancellationToken cancellationToken)
    {
        await using var command = db.Command(dryRun ? SweepSql.DueForDispatch : SweepSql.Dispatch);
        command.Parameters
            .Value("redispatch_after", NpgsqlDbType.Double, options.RedispatchAfter.TotalSeconds)
            .Value("batch", NpgsqlDbType.Integer, options.BatchSize);
        if (!dryRun)
        {
            command.Parameters.Text("job_queue", jobQueue.Value).TraceParent();
        }

        var dispatched = new List<RecoveredJob>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            dispatched.Add(new RecoveredJob(reader.Column<Guid>("id"), "dispatched", null));
        }

        return dispatched;
    }

    /// <summary>
    /// Puts a failed (or stuck queued) job back in the queue on an operator's word, with fresh attempts. Null when
    /// requeued; otherwise the status that refused it ("missing" when there is no such job).
    /// </summary>
    public Task<string?> RequeueByOperatorAsync(Guid jobId, string note, CancellationToken cancellationToken) =>
        RequeueByOperatorAsync(jobId, note, by: null, cancellationToken);

    /// <summary>As above, naming who asked in the <c>requeued</c> event (<c>by</c>), as a cancel does.</summary>
    public async Task<string?> RequeueByOperatorAsync(Guid jobId, string note, string? by, CancellationToken cancellationToken)
    {
        await using var command = db.Command(SweepSql.RequeueByOperator);
        command.Parameters.Id(jobId).Text("note", note).Text("by", Control.ControlLimits.Clip(by, Control.ControlLimits.By))
            .Text("job_queue", jobQueue.Value).TraceParent();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return reader.Column<long>("requeued") == 1 ? null : reader.Column<string>("status") ?? "missing";
    }
}
