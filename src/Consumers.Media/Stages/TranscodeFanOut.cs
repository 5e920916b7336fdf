using System.Globalization;
using Consumers.Runtime.Checkpoints;
using Consumers.Runtime.Stages;

namespace Consumers.Media.Stages;

/// <summary>
/// The transcode's fan-out (<c>parallel</c>): which part of a segmented transcode an attempt does. A job with
/// <c>parallel</c> of 2 or more hands contiguous ranges of its segments to that many segment jobs on its first attempt
/// and waits; its next attempt joins what they recorded (and encodes anything they did not). A segment job encodes its
/// range into its parent's checkpoint. Everything else about the encode is <see cref="SegmentedTranscode"/>'s.
/// </summary>
internal static class TranscodeFanOut
{
    /// <summary>How many segment jobs a job fans out to (1: none).</summary>
    public const string ParallelParameter = "parallel";

    /// <summary>The parent's segment length, given to its segment jobs so their plan is the parent's whatever their own settings.</summary>
    public const string SegmentSecondsParameter = "segmentSeconds";

    /// <summary>The job's <c>parallel</c>: the parameter, else the stage default; INVALID_REQUEST naming it when out of range.</summary>
    public static int Parallel(StageContext context, MediaOptions options) =>
        StageParameters.WholeNumber(context, ParallelParameter, options.TranscodeParallel, 1, MediaOptions.MaxParallel);

    /// <summary>The segment length of this attempt's plan: a segment job takes its parent's.</summary>
    public static double SegmentSeconds(StageContext context, MediaOptions options) =>
        context.Checkpoint.SegmentOf is null
            ? options.SegmentSeconds
            : StageParameters.Number(context, SegmentSecondsParameter, 1, MediaOptions.MaxSegmentSeconds) ?? options.SegmentSeconds;

    /// <summary>The range a segment job encodes, checked against the plan (INVALID_REQUEST when it does not fit).</summary>
    public static SegmentRange RangeOf(StageContext context, SegmentPlan plan)
    {
        var first = StageParameters.WholeNumber(context, SegmentJobParameters.First, -1, 0, plan.Count - 1);
        var end = StageParameters.WholeNumber(context, SegmentJobParameters.End, -1, 1, plan.Count);
        if (first < 0 || end <= first)
        {
            throw new Runtime.Failures.JobFailureException(Contracts.ErrorCodes.InvalidRequest,
                $"parameters.{SegmentJobParameters.First} and {SegmentJobParameters.End} must give a range of this plan's {plan.Count} segments")
            {
                Field = "parameters." + SegmentJobParameters.First,
            };
        }

        return new SegmentRange(first, end, plan.Timing.SecondsAt(Frames(plan, first, end)));
    }

    /// <summary>
    /// Whether this attempt fans out: <paramref name="parallel"/> of 2 or more, a plan of 2 or more segments, a worker with
    /// checkpoints, and no segment jobs yet, or some still to run (a fan-out seen again waits again; no job is created twice).
    /// </summary>
    public static async Task<bool> ShouldFanOutAsync(StageContext context, SegmentPlan plan, int parallel, CancellationToken cancellationToken)
    {
        if (parallel < 2 || plan.Count < 2 || !context.Checkpoint.Enabled || context.Checkpoint.SegmentOf is not null)
        {
            return false;
        }

        var state = await context.Checkpoint.SegmentJobsAsync(cancellationToken);
        return state is null || state.Finished < state.Total;
    }

    /// <summary>The request to hand <paramref name="plan"/>'s segments to <paramref name="parallel"/> segment jobs, in near-equal contiguous ranges.</summary>
    public static FanOutRequestedException Request(SegmentPlan plan, int parallel, double segmentSeconds)
    {
        var jobs = Math.Min(parallel, plan.Count);
        var ranges = Enumerable.Range(0, jobs)
            .Select(i => (First: (int)((long)plan.Count * i / jobs), End: (int)((long)plan.Count * (i + 1) / jobs)))
            .Select(r => new SegmentRange(r.First, r.End, plan.Timing.SecondsAt(Frames(plan, r.First, r.End))))
            .ToList();
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [SegmentSecondsParameter] = segmentSeconds.ToString("R", CultureInfo.InvariantCulture),
            // A segment job does not fan out again.
            [ParallelParameter] = "1",
        };
        return new FanOutRequestedException(ranges, plan.Count, parameters);
    }

    private static long Frames(SegmentPlan plan, int first, int end) =>
        Math.Min(plan.Timing.Frames, (long)end * plan.FramesPerSegment) - ((long)first * plan.FramesPerSegment);
}
