namespace Consumers.Runtime.Timeline;

/// <summary>One broken rule in one job's timeline, pointing at the event where it shows.</summary>
public sealed record TimelineViolation(Guid JobId, long Seq, string Rule, string Detail)
{
    public override string ToString() => $"{JobId} seq {Seq}: {Rule}: {Detail}";
}
