using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Jobs.Sql;
using Npgsql;
using NpgsqlTypes;

namespace Consumers.Runtime.Pipelines;

/// <summary>
/// The pipeline state machine's writes: each method is one batch (one implicit transaction) of the named statements in
/// <c>Jobs/Sql/PipelineSql</c>. Steps' jobs are created by <see cref="PipelineSql.Advance"/>; every later change of a step
/// follows from its job's final write (<see cref="Jobs.JobStore"/> advances the pipeline in that write's transaction).
/// </summary>
public sealed class PipelineStore
{
    private readonly SqlTarget db;
    private readonly JobQueueName jobQueue;

    public PipelineStore(NpgsqlDataSource dataSource, JobQueueName jobQueue)
        : this(new SqlTarget(dataSource), jobQueue)
    {
    }

    internal PipelineStore(SqlTarget target, JobQueueName jobQueue)
    {
        db = target;
        this.jobQueue = jobQueue;
    }

    /// <summary>
    /// Registers a valid pipeline and dispatches its first steps, in one transaction. False when the id exists (nothing
    /// changes: the same pipeline submitted twice runs once).
    /// </summary>
    public async Task<bool> SubmitAsync(PipelineRequested request, IReadOnlyList<PlannedStep> steps, CancellationToken cancellationToken)
    {
        await using var batch = db.Batch();
        var submit = new NpgsqlBatchCommand(PipelineSql.Submit);
        BindPipeline(submit.Parameters, request);
        var rows = steps.Select(s => new
        {
            name = s.Name,
            stage = s.Job.Stage,
            jobId = s.Job.JobId,
            dependsOn = s.DependsOn,
            ancestors = s.Ancestors,
            request = s.Job,
            maxAttempts = s.MaxAttempts,
        });
        submit.Parameters.Text("steps", JsonSerializer.Serialize(rows, ContractJson.Options)).TraceParent();
        batch.BatchCommands.Add(submit);
        AddAdvance(batch, request.PipelineId);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var created = await reader.ReadAsync(cancellationToken) && reader.Column<bool>("created");
        while (await reader.NextResultAsync(cancellationToken))
        {
        }

        return created;
    }

    /// <summary>Records an invalid pipeline as failed at once, naming the step and field. False when the id exists.</summary>
    public async Task<bool> RejectAsync(PipelineRequested request, string code, string message, string? field, CancellationToken cancellationToken)
    {
        await using var command = db.Command(PipelineSql.Reject);
        BindPipeline(command.Parameters, request);
        var step = field is not null && field.StartsWith("steps.", StringComparison.Ordinal) ? field.Split('.')[1] : null;
        command.Parameters.Text("code", code).Text("message", Jobs.StorableText.Truncate(message, 2000)).Text("step", step).Text("field", field).TraceParent();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) && reader.Column<bool>("created");
    }

    /// <summary>Brings the pipeline up to date with its steps' jobs (dispatch, skip, finish); returns how many steps it dispatched.</summary>
    public async Task<long> AdvanceAsync(Guid pipelineId, CancellationToken cancellationToken)
    {
        await using var batch = db.Batch();
        AddAdvance(batch, pipelineId);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? reader.Column<long>("dispatched") : 0;
    }

    /// <summary>Running pipelines whose steps' outcomes were not all recorded, or with no step running (the sweep advances them).</summary>
    public async Task<IReadOnlyList<Guid>> StalledAsync(int batchSize, CancellationToken cancellationToken)
    {
        await using var command = db.Command(PipelineSql.Stalled);
        command.Parameters.Value("batch", NpgsqlDbType.Integer, batchSize);
        var ids = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.Column<Guid>("id"));
        }

        return ids;
    }

    /// <summary>
    /// Marks the pipeline's cancel (its waiting steps are cancelled by the next advance) and returns its status and the
    /// jobs of its dispatched steps, or null when there is no such pipeline.
    /// </summary>
    public async Task<(string Status, Guid[] Jobs)?> RequestCancelAsync(Guid pipelineId, string? reason, string by, CancellationToken cancellationToken)
    {
        await using var command = db.Command(PipelineSql.RequestCancel);
        command.Parameters.Value("pipeline_id", NpgsqlDbType.Uuid, pipelineId)
            .Text("reason", Control.ControlLimits.Clip(reason, Control.ControlLimits.Reason))
            .Text("by", Control.ControlLimits.Clip(by, Control.ControlLimits.By));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.Column<string>("status")!, reader.Column<Guid[]>("job_ids") ?? []) : null;
    }

    private void AddAdvance(NpgsqlBatch batch, Guid pipelineId)
    {
        var lockPipeline = new NpgsqlBatchCommand(PipelineSql.Lock);
        lockPipeline.Parameters.Value("pipeline_id", NpgsqlDbType.Uuid, pipelineId);
        batch.BatchCommands.Add(lockPipeline);
        var advance = new NpgsqlBatchCommand(PipelineSql.Advance);
        advance.Parameters.Value("pipeline_id", NpgsqlDbType.Uuid, pipelineId).TraceParent()
            .Text("job_queue", jobQueue.Value);
        batch.BatchCommands.Add(advance);
    }

    private static void BindPipeline(NpgsqlParameterCollection parameters, PipelineRequested request) => parameters
        .Value("pipeline_id", NpgsqlDbType.Uuid, request.PipelineId)
        .Text("source", Jobs.StorableText.Truncate(request.Source ?? "", Jobs.JobRequestLimits.Source))
        .Text("request", JsonSerializer.Serialize(request, ContractJson.Options));
}
