using Consumers.Bench.Infrastructure;
using Consumers.Bench.Reporting;
using Consumers.Bench.Sections;

namespace Consumers.Bench.Tests;

public sealed class BenchReportingTests
{
    [Theory]
    [InlineData(19.7, 24.0, 0.8208)]
    [InlineData(10.0, 10.0, 1.0)]
    public void Ratio_divides_measured_sides(double plain, double runtime, double expected) =>
        Assert.Equal(expected, Targets.Ratio(plain, runtime)!.Value, 3);

    [Theory]
    [InlineData(null, 10.0)]
    [InlineData(10.0, null)]
    [InlineData(10.0, 0.0)]
    [InlineData(double.NaN, 10.0)]
    public void Ratio_against_nothing_is_not_a_figure(double? numerator, double? denominator) =>
        Assert.Null(Targets.Ratio(numerator, denominator));

    [Fact]
    public void At_least_target_is_met_at_the_bound_and_missed_below_or_when_unmeasured()
    {
        var result = new SectionResult("media");
        var met = Targets.AddAtLeast(result, "exactly", 95, 100, Targets.MediaEfficiency);
        var missed = Targets.AddAtLeast(result, "below", 82, 100, Targets.MediaEfficiency);
        var unmeasured = Targets.AddAtLeast(result, "unmeasured", 82, null, Targets.MediaEfficiency);

        Assert.True(met.Met);
        Assert.False(missed.Met);
        Assert.False(unmeasured.Met);
        Assert.Equal("n/a", unmeasured.FormattedValue);
        Assert.Equal(">= 0.95", met.Target);
    }

    [Fact]
    public void At_most_target_is_met_at_the_bound_and_missed_above()
    {
        var result = new SectionResult("throughput");
        Assert.True(Targets.AddAtMost(result, "tx", 3.0, "commits", Targets.TransactionsPerJob).Met);
        Assert.False(Targets.AddAtMost(result, "tx", 6.16, "commits", Targets.TransactionsPerJob).Met);
        Assert.False(Targets.AddAtMost(result, "cpu", null, "ms", Targets.CpuMillisecondsPerJob).Met);
    }

    [Fact]
    public void Timeline_window_runs_from_first_started_to_last_completed_and_hand_offs_follow_the_slot_that_freed()
    {
        var t0 = new DateTime(2026, 12, 2, 6, 0, 0, DateTimeKind.Utc);
        Guid a = Guid.NewGuid(), b = Guid.NewGuid(), c = Guid.NewGuid();
        var events = new List<(Guid, string, DateTime)>
        {
            (a, "started", t0),
            (b, "started", t0.AddMilliseconds(20)),
            (a, "progress", t0.AddSeconds(2)),
            (a, "completed", t0.AddSeconds(5)),
            // c waits for a's slot: it starts 50 ms after a completed.
            (c, "started", t0.AddSeconds(5.05)),
            (b, "completed", t0.AddSeconds(6)),
            (c, "completed", t0.AddSeconds(10.05)),
        };

        var timeline = TranscodeTimeline.From(events, slots: 2);

        Assert.Equal(10.05, timeline.WindowSeconds!.Value, 3);
        Assert.Equal([5.0, 5.0, 5.98], timeline.JobWallSeconds.Select(w => Math.Round(w, 2)));
        Assert.Equal(0.05, Assert.Single(timeline.HandOffSeconds), 3);
        Assert.Equal(0.02, timeline.FirstWaveSpreadSeconds!.Value, 3);
        Assert.Equal(1, timeline.ProgressEvents);
        Assert.Equal(3, timeline.Completed);
    }

    [Fact]
    public void Timeline_of_a_retried_job_counts_its_last_attempt_and_an_unfinished_batch_has_no_window()
    {
        var t0 = new DateTime(2026, 12, 2, 6, 0, 0, DateTimeKind.Utc);
        var job = Guid.NewGuid();
        var retried = TranscodeTimeline.From([(job, "started", t0), (job, "started", t0.AddSeconds(3)), (job, "completed", t0.AddSeconds(4))], slots: 2);
        var unfinished = TranscodeTimeline.From([(job, "started", t0)], slots: 2);

        Assert.Equal(1.0, Assert.Single(retried.JobWallSeconds), 3);
        Assert.Null(unfinished.WindowSeconds);
        Assert.Empty(unfinished.JobWallSeconds);
    }

    [Fact]
    public void Counter_sums_label_sets_and_leaves_out_other_series_with_the_same_prefix()
    {
        const string Text = """
            # TYPE heartbeats_total counter
            heartbeats_total{otel_scope_name="Consumers"} 12 1733119200000
            heartbeats_total{otel_scope_name="Other"} 3
            heartbeats_total_created 1733119100
            heartbeat_failures_total 5
            """;
        Assert.Equal(15, Stats.ParseCounter(Text, "heartbeats_total"));
        Assert.Equal(5, Stats.ParseCounter(Text, "heartbeat_failures_total"));
        Assert.Equal(0, Stats.ParseCounter(Text, "absent_total"));
    }

    [Fact]
    public void Peer_output_is_read_with_an_unmeasured_rate()
    {
        var run = HangfirePeer.PeerRun.Parse("defaults",
            """{"finished":false,"jobs":10,"succeeded":0,"workers":10,"queuePollMs":15000,"submitPerSecond":100.5,"wallSeconds":120,"jobsPerSecond":null,"processCpuMsPerJob":7.5,"transactionsPerJob":20.5}""");

        Assert.Null(run.JobsPerSecond);
        Assert.False(run.Finished);
        Assert.Equal(10, run.Workers);
        Assert.Contains("NOT FINISHED", run.Describe(), StringComparison.Ordinal);
    }
}
