using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Flow.Lanes;

/// <summary>
/// The worker's lanes: the shared one on the job queue, where every job arrives, and one per stage configured
/// under <c>Consumers:Flow:Stages</c>. A job holds a slot of its lane and one of the whole worker
/// (<c>ConcurrentJobs</c>) while it runs, so a lane caps its stage and the worker caps everything.
/// </summary>
public sealed class JobLanes
{
    // Stage names are matched exactly, as the stage registry does: "Transcode" is not a transcode.
    private readonly Dictionary<string, JobLane> byStage = new(StringComparer.Ordinal);

    public JobLanes(JobQueueName jobQueue, IOptions<FlowOptions> flowOptions)
    {
        var flow = flowOptions.Value;
        Worker = new SlotLimiter(flow.ConcurrentJobs);
        Shared = new JobLane(JobLane.SharedName, jobQueue.Value, flow.ConcurrentJobs, flow.Adaptive.SharedMinSlots);
        var all = new List<JobLane> { Shared };
        foreach (var (stage, options) in flow.Stages.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            if (options.Slots <= 0)
            {
                continue;
            }

            if (stage is JobLane.SharedName or JobLane.WorkerName)
            {
                throw new InvalidOperationException($"Consumers:Flow:Stages:{stage}: '{stage}' names a lane of its own and cannot be a stage's lane");
            }

            // Never more than the whole worker may run.
            var lane = new JobLane(stage, $"{jobQueue.Value}.{stage}", Math.Min(options.Slots, flow.ConcurrentJobs), options.MinSlots);
            byStage[stage] = lane;
            all.Add(lane);
        }

        All = all;
    }

    /// <summary>Where a suspect job waits to run alone; every delivery passes it after its slots.</summary>
    public SoloGate Solo { get; } = new();

    /// <summary>The whole worker's slots (<c>ConcurrentJobs</c>).</summary>
    public SlotLimiter Worker { get; }

    public JobLane Shared { get; }

    public IReadOnlyList<JobLane> All { get; }

    /// <summary>The lane a job of <paramref name="stage"/> runs in; unknown and missing stages run (and fail) in the shared lane.</summary>
    public JobLane For(string? stage) => stage is not null && byStage.TryGetValue(stage, out var lane) ? lane : Shared;

    /// <summary>
    /// Waits for a slot of <paramref name="lane"/>, then of the worker, then for no suspect to be running alone
    /// here; null when cancelled first.
    /// </summary>
    public async Task<LaneSlot?> EnterAsync(JobLane lane, CancellationToken cancellationToken)
    {
        if (!await lane.Slots.EnterAsync(cancellationToken))
        {
            return null;
        }

        if (!await Worker.EnterAsync(cancellationToken))
        {
            lane.Slots.Exit();
            return null;
        }

        if (!await Solo.EnterAsync(cancellationToken))
        {
            Worker.Exit();
            lane.Slots.Exit();
            return null;
        }

        return new LaneSlot(lane, Worker, Solo);
    }
}
