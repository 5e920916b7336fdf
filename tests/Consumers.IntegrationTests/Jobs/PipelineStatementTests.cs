using Consumers.Contracts;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Pipelines;

namespace Consumers.IntegrationTests.Jobs;

/// <summary>
/// The pipeline statements (<c>Jobs/Sql/PipelineSql</c>) in rolled-back transactions: a step's dependents are created
/// by the very write that records its success, and a write that lost its lease dispatches nothing.
/// </summary>
public sealed class PipelineStatementTests(SharedDatabase database) : IClassFixture<SharedDatabase>
{
    private static readonly AcquireSettings Settings = new("w1", 1, 3600, 3);

    [Fact]
    public async Task Submitting_dispatches_only_the_first_step_and_its_success_dispatches_the_next_in_the_same_write()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var (request, first, second) = TwoSteps();

        Assert.True(await tx.Pipelines.SubmitAsync(request, [first, second], CancellationToken.None));
        Assert.False(await tx.Pipelines.SubmitAsync(request, [first, second], CancellationToken.None));
        Assert.Equal(1, await tx.CountAsync($"SELECT count(*) FROM jobs WHERE pipeline_id = '{request.PipelineId}'"));
        Assert.Contains(await tx.OutboxAsync(first.Job.JobId), o => o.Type == nameof(JobRequested));

        var lease = (await tx.Jobs.AcquireAsync(first.Job, Settings, CancellationToken.None)).Lease!;
        // The lease says the job is a step: its final write adds the pipeline's advance.
        Assert.Equal(request.PipelineId, lease.PipelineId);
        var artifact = new ArtifactRecord(first.Job.OutputKey, 10, new string('a', 64));
        Assert.True(await tx.Jobs.SucceedAsync(lease, artifact, [Runtime.Timeline.TimelineEntry.Of(TimelineEventTypes.Completed)], CancellationToken.None,
            """{"durationSeconds": 12.5}"""));

        // The same batch created the second step's job with the probe's duration and queued its request.
        Assert.Equal("queued", await tx.ScalarAsync<string>($"SELECT status FROM jobs WHERE id = '{second.Job.JobId}'"));
        Assert.Equal(12.5, await tx.ScalarAsync<double>($"SELECT clip_duration_seconds FROM jobs WHERE id = '{second.Job.JobId}'"));
        Assert.Contains(await tx.OutboxAsync(second.Job.JobId), o => o.Type == nameof(JobRequested));
        var types = await tx.ScalarAsync<string[]>(
            $"SELECT array_agg(type ORDER BY seq) FROM pipeline_events WHERE pipeline_id = '{request.PipelineId}'");
        Assert.Equal([PipelineEventTypes.PipelineStarted, PipelineEventTypes.StepDispatched, PipelineEventTypes.StepSucceeded, PipelineEventTypes.StepDispatched], types);
        Assert.Equal(4, await tx.CountAsync(
            $"SELECT count(*) FROM outbox_messages WHERE job_id = '{request.PipelineId}' AND message_type = '{nameof(PipelineTimelineEvent)}'"));
    }

    [Fact]
    public async Task A_success_written_with_a_lost_lease_dispatches_nothing()
    {
        await using var tx = await StatementTransaction.BeginAsync(database.Env);
        var (request, first, second) = TwoSteps();
        await tx.Pipelines.SubmitAsync(request, [first, second], CancellationToken.None);
        var lease = (await tx.Jobs.AcquireAsync(first.Job, Settings, CancellationToken.None)).Lease!;

        var stale = lease with { Token = lease.Token + 1 };
        Assert.False(await tx.Jobs.SucceedAsync(stale, new ArtifactRecord(first.Job.OutputKey, 10, new string('a', 64)),
            [Runtime.Timeline.TimelineEntry.Of(TimelineEventTypes.Completed)], CancellationToken.None));

        Assert.Equal(0, await tx.CountAsync($"SELECT count(*) FROM jobs WHERE id = '{second.Job.JobId}'"));
        Assert.Equal("waiting", await tx.ScalarAsync<string>($"SELECT state FROM pipeline_steps WHERE job_id = '{second.Job.JobId}'"));
    }

    private static (PipelineRequested Request, PlannedStep First, PlannedStep Second) TwoSteps()
    {
        var request = new PipelineRequested { PipelineId = Guid.NewGuid() };
        var first = new PlannedStep("probe", Job("probe.json"), [], [], 3);
        var second = new PlannedStep("proxy", Job("proxy.json"), ["probe"], ["probe"], 3);
        return (request, first, second);
    }

    private static JobRequested Job(string key) => new() { JobId = Guid.NewGuid(), Stage = "synthetic", OutputKey = "pipe/" + Guid.NewGuid() + "/" + key };
}
