using System.Globalization;
using Consumers.Contracts;

namespace Consumers.Runtime.Checkpoints;

/// <summary>
/// The request parameters the runtime sets on a segment job (a job that encodes a range of a fanned-out transcode's
/// segments into that job's checkpoint). A producer cannot fake one: the fenced write of a part also requires the
/// job's row to name the parent (<c>parent_job_id</c>), which only the fan-out itself writes.
/// </summary>
public static class SegmentJobParameters
{
    /// <summary>The fanned-out job this one encodes for.</summary>
    public const string Parent = "segmentOf";

    /// <summary>The first segment of the range.</summary>
    public const string First = "segmentFirst";

    /// <summary>The segment after the range's last.</summary>
    public const string End = "segmentEnd";

    /// <summary>The parent named by <paramref name="request"/>, or null for an ordinary job.</summary>
    public static Guid? ParentOf(JobRequested request) =>
        request.Parameters is not null && request.Parameters.TryGetValue(Parent, out var text) && Guid.TryParse(text, out var id) ? id : null;

    /// <summary>The request of segment job <paramref name="index"/> of <paramref name="parent"/>: the parent's, with the range and the stage's own parameters.</summary>
    public static JobRequested For(JobRequested parent, int index, SegmentRange range, IReadOnlyDictionary<string, string> stageParameters)
    {
        var parameters = new Dictionary<string, string>(parent.Parameters ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        foreach (var (name, value) in stageParameters)
        {
            parameters[name] = value;
        }

        parameters[Parent] = parent.JobId.ToString("D");
        parameters[First] = range.First.ToString(CultureInfo.InvariantCulture);
        parameters[End] = range.End.ToString(CultureInfo.InvariantCulture);
        return parent with
        {
            JobId = SegmentJobId(parent.JobId, index),
            ClipDurationSeconds = range.Seconds,
            Parameters = parameters,
        };
    }

    /// <summary>
    /// The id of segment job <paramref name="index"/>: derived from the parent's, so a fan-out written twice (it cannot
    /// be, the write is fenced; but a replayed one would) names the same jobs.
    /// </summary>
    public static Guid SegmentJobId(Guid parent, int index)
    {
        Span<byte> input = stackalloc byte[20];
        parent.TryWriteBytes(input);
        BitConverter.TryWriteBytes(input[16..], index);
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(input, hash);
        // A name-based UUID layout (version 8, RFC 9562 variant) from the hash's first 16 bytes.
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true);
    }
}

/// <summary>Segments [<see cref="First"/>, <see cref="End"/>) of a plan, <see cref="Seconds"/> of source long (sizes the segment job's lease).</summary>
public sealed record SegmentRange(int First, int End, double Seconds);

/// <summary>What the segment jobs of a fanned-out job have done: how many there are, have finished, have succeeded.</summary>
public sealed record SegmentJobsState(int Total, int Finished, int Succeeded);

/// <summary>
/// Thrown by a stage that hands its segments to segment jobs (one per range) instead of encoding them: the runtime
/// creates the jobs and gives the lease back (<c>waiting</c>, uncharged) in one transaction, and dispatches the job
/// again once the last segment job has finished. Whatever the stage checkpointed before stays.
/// </summary>
/// <param name="ranges">The segment jobs to create, in order.</param>
/// <param name="segments">How many segments the plan has.</param>
/// <param name="stageParameters">Parameters every segment job gets besides the range (what makes its plan the parent's).</param>
public sealed class FanOutRequestedException(IReadOnlyList<SegmentRange> ranges, int segments, IReadOnlyDictionary<string, string> stageParameters)
    : Exception("handing the segments to segment jobs")
{
    public IReadOnlyList<SegmentRange> Ranges { get; } = ranges;

    public int Segments { get; } = segments;

    public IReadOnlyDictionary<string, string> StageParameters { get; } = stageParameters;
}
