using Consumers.Runtime.Timeline;

namespace Consumers.Runtime.Tests.Timeline;

public sealed class TimelineCheckerTests
{
    private static readonly Guid Job = Guid.NewGuid();

    /// <summary>Builds a timeline from "type:attempt[:percent]" items, numbering seq from 1.</summary>
    private static List<JobEventRecord> Timeline(params string[] items) =>
        [.. items.Select((item, i) =>
        {
            var parts = item.Split(':');
            var data = parts.Length > 2 ? $$"""{"percent":"{{parts[2]}}"}""" : "{}";
            return new JobEventRecord { JobId = Job, Seq = i + 1, Type = parts[0], Attempt = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), Data = data };
        })];

    public static TheoryData<string[]> Good => new()
    {
        new[] { "requested:0", "started:1", "completed:1" },
        new[] { "requested:0", "started:1", "progress:1:10", "progress:1:60", "progress:1:100", "completed:1" },
        new[] { "requested:0", "started:1", "skipped:1" },
        new[] { "requested:0", "started:1", "progress:1:50", "retry_scheduled:1", "started:2", "progress:2:20", "completed:2" },
        new[] { "requested:0", "started:1", "requeued:1", "started:2", "aborted:2", "requeued:2", "started:3", "completed:3" },
        new[] { "requested:0", "started:1", "requeued:1", "started:2", "failed:2" },
        new[] { "requested:0", "started:1", "failed:1" },
        new[] { "requested:0" },
        new[] { "requested:0", "cancelled:0" },
        new[] { "requested:0", "started:1", "progress:1:30", "cancelled:1" },
        new[] { "requested:0", "started:1", "retry_scheduled:1", "cancelled:1" },
        new[] { "requested:0", "started:1", "progress:1:5", "waiting:1", "started:2", "progress:2:50", "completed:2" },
        new[] { "requested:0", "started:1", "waiting:1", "cancelled:1" },
    };

    [Theory]
    [MemberData(nameof(Good))]
    public void Accepts_timelines_that_keep_the_rules(string[] items)
    {
        Assert.Empty(TimelineChecker.Check(Job, Timeline(items)));
    }

    public static TheoryData<string, string[]> Bad => new()
    {
        { "requested-first", new[] { "started:1", "completed:1" } },
        { "requested-first", new[] { "requested:0", "requested:0", "started:1", "completed:1" } },
        { "nothing-after-terminal", new[] { "requested:0", "started:1", "completed:1", "progress:1:100" } },
        { "nothing-after-terminal", new[] { "requested:0", "started:1", "failed:1", "started:2" } },
        { "nothing-after-terminal", new[] { "requested:0", "cancelled:0", "started:1", "completed:1" } },
        { "progress-inside-attempt", new[] { "requested:0", "progress:0:10", "started:1", "completed:1" } },
        { "progress-inside-attempt", new[] { "requested:0", "started:1", "retry_scheduled:1", "progress:1:10", "started:2", "completed:2" } },
        { "progress-not-decreasing", new[] { "requested:0", "started:1", "progress:1:50", "progress:1:40", "completed:1" } },
        { "progress-range", new[] { "requested:0", "started:1", "progress:1:140", "completed:1" } },
        { "next-attempt-number", new[] { "requested:0", "started:1", "requeued:1", "started:1", "completed:1" } },
        { "next-attempt-number", new[] { "requested:0", "started:1", "retry_scheduled:1", "started:3", "completed:3" } },
        { "attempts-do-not-overlap", new[] { "requested:0", "started:1", "started:2", "completed:2" } },
        { "outcome-inside-attempt", new[] { "requested:0", "completed:1" } },
        { "outcome-inside-attempt", new[] { "requested:0", "waiting:1", "started:2", "completed:2" } },
        { "progress-inside-attempt", new[] { "requested:0", "started:1", "waiting:1", "progress:1:10", "started:2", "completed:2" } },
        { "next-attempt-number", new[] { "requested:0", "started:1", "waiting:1", "started:1", "completed:1" } },
        { "known-type", new[] { "requested:0", "started:1", "exploded:1" } },
    };

    [Theory]
    [MemberData(nameof(Bad))]
    public void Rejects_each_kind_of_violation(string rule, string[] items)
    {
        var violations = TimelineChecker.Check(Job, Timeline(items));

        Assert.Contains(violations, v => v.Rule == rule);
    }

    [Fact]
    public void Rejects_gaps_and_duplicates_in_the_sequence()
    {
        var timeline = Timeline("requested:0", "started:1", "completed:1");
        timeline[1].Seq = 3;
        timeline[2].Seq = 3;

        var violations = TimelineChecker.Check(Job, timeline);

        Assert.Contains(violations, v => v.Rule == "gapless-sequence" && v.Seq == 3);
        Assert.Equal(2, violations.Count(v => v.Rule == "gapless-sequence"));
    }
}
