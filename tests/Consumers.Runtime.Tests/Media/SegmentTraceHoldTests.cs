using Consumers.Media;

namespace Consumers.Runtime.Tests.Media;

public sealed class SegmentTraceHoldTests
{
    [Theory]
    [InlineData("join", "join", -1, true)]
    [InlineData("join", "joined", -1, false)]
    [InlineData("recorded 3", "recorded", 3, true)]
    [InlineData("recorded 3", "recorded", 2, false)]
    [InlineData("encode -1", "encode", -1, true)]
    [InlineData(null, "join", -1, false)]
    public void A_hold_names_one_trace_line(string? hold, string step, int index, bool holds) =>
        Assert.Equal(holds, new MediaOptions { SegmentTraceDirectory = "/tmp/t", SegmentTraceHold = hold }.HoldsAt(step, index));

    [Theory]
    [InlineData("/tmp/t", "commit")]
    [InlineData("/tmp/t", "recorded three")]
    [InlineData("/tmp/t", "recorded 3 4")]
    [InlineData(null, "join")]
    public void A_hold_that_names_no_trace_line_or_has_no_trace_is_refused(string? directory, string hold)
    {
        var problems = new MediaOptions { SegmentTraceDirectory = directory, SegmentTraceHold = hold }.Problems();
        Assert.Contains(problems, p => p.Contains("SegmentTraceHold", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("00:00:00", false)]
    [InlineData("00:00:08", true)]
    [InlineData("00:10:00", true)]
    [InlineData("00:10:01", false)]
    public void A_hold_lasts_more_than_nothing_and_at_most_ten_minutes(string holdFor, bool accepted)
    {
        var problems = new MediaOptions { SegmentTraceHoldFor = TimeSpan.Parse(holdFor, System.Globalization.CultureInfo.InvariantCulture) }.Problems();
        Assert.Equal(accepted, !problems.Any(p => p.Contains("SegmentTraceHoldFor", StringComparison.Ordinal)));
    }
}
