using System.Globalization;
using System.Text.Json;
using Consumers.Contracts;

namespace Consumers.Runtime.Timeline;

/// <summary>
/// The rules every timeline keeps: sequence numbers start at 1 with no gaps;
/// <c>requested</c> comes first; <c>progress</c> only inside a started attempt, in 0..100 and never
/// decreasing within it; nothing follows a terminal event; an attempt ends before the next starts, and after
/// <c>requeued</c>, <c>retry_scheduled</c> or <c>waiting</c> (a fanned-out transcode) the next <c>started</c> has the next attempt number.
/// Used by the tests and by <c>consumers check-timeline</c>.
/// </summary>
public static class TimelineChecker
{
    public static IReadOnlyList<TimelineViolation> Check(Guid jobId, IReadOnlyList<JobEventRecord> events)
    {
        var violations = new List<TimelineViolation>();
        void Violation(JobEventRecord e, string rule, string detail) => violations.Add(new TimelineViolation(jobId, e.Seq, rule, detail));

        var expectedSeq = 1L;
        int? openAttempt = null;
        var lastStartedAttempt = 0;
        var lastProgress = -1;
        string? terminal = null;

        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (e.Seq != expectedSeq)
            {
                Violation(e, "gapless-sequence", $"expected seq {expectedSeq}, found {e.Seq}");
            }

            expectedSeq = e.Seq + 1;
            if (terminal is not null && e.Type == TimelineEventTypes.Requeued && Reason(e) == "operator")
            {
                // An operator may give a finished job another life; the next attempt continues the numbering.
                terminal = null;
            }
            else if (terminal is not null)
            {
                Violation(e, "nothing-after-terminal", $"{e.Type} follows terminal {terminal}");
            }

            if (i == 0 && e.Type != TimelineEventTypes.Requested)
            {
                Violation(e, "requested-first", $"first event is {e.Type}");
            }

            switch (e.Type)
            {
                case TimelineEventTypes.Requested:
                    if (i != 0)
                    {
                        Violation(e, "requested-first", "requested appears again");
                    }

                    break;
                case TimelineEventTypes.Started:
                    if (openAttempt is { } open)
                    {
                        Violation(e, "attempts-do-not-overlap", $"attempt {e.Attempt} started while attempt {open} was still open");
                    }

                    if (e.Attempt != lastStartedAttempt + 1)
                    {
                        Violation(e, "next-attempt-number", $"started attempt {e.Attempt} after attempt {lastStartedAttempt}");
                    }

                    openAttempt = e.Attempt;
                    lastStartedAttempt = e.Attempt;
                    lastProgress = -1;
                    break;
                case TimelineEventTypes.Progress:
                    if (openAttempt != e.Attempt)
                    {
                        Violation(e, "progress-inside-attempt", $"progress for attempt {e.Attempt} while {(openAttempt is null ? "no attempt" : "attempt " + openAttempt)} is open");
                    }

                    var percent = Percent(e);
                    if (percent is null or < 0 or > 100)
                    {
                        Violation(e, "progress-range", $"percent '{percent?.ToString(CultureInfo.InvariantCulture) ?? "missing"}'");
                    }
                    else if (percent < lastProgress)
                    {
                        Violation(e, "progress-not-decreasing", $"{percent} after {lastProgress}");
                    }
                    else
                    {
                        lastProgress = percent.Value;
                    }

                    break;
                case TimelineEventTypes.Completed or TimelineEventTypes.Skipped:
                    if (openAttempt != e.Attempt)
                    {
                        Violation(e, "outcome-inside-attempt", $"{e.Type} for attempt {e.Attempt} without that attempt started");
                    }

                    terminal = e.Type;
                    openAttempt = null;
                    break;
                case TimelineEventTypes.Failed or TimelineEventTypes.Quarantined or TimelineEventTypes.Cancelled:
                    // A job can fail outside an attempt: the recovery sweep fails a dead attempt, or an operator does.
                    // A cancel ends a running attempt or a job that waits between attempts.
                    terminal = e.Type;
                    openAttempt = null;
                    break;
                case TimelineEventTypes.RetryScheduled or TimelineEventTypes.Requeued or TimelineEventTypes.Aborted or TimelineEventTypes.Waiting:
                    if (e.Type is TimelineEventTypes.RetryScheduled or TimelineEventTypes.Waiting && openAttempt != e.Attempt)
                    {
                        Violation(e, "outcome-inside-attempt", $"{e.Type} for attempt {e.Attempt} without that attempt open");
                    }

                    openAttempt = null;
                    break;
                default:
                    Violation(e, "known-type", $"unknown event type '{e.Type}'");
                    break;
            }
        }

        return violations;
    }

    private static string? Reason(JobEventRecord e)
    {
        try
        {
            using var data = JsonDocument.Parse(e.Data);
            return data.RootElement.TryGetProperty("reason", out var value) ? value.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static int? Percent(JobEventRecord e)
    {
        try
        {
            using var data = JsonDocument.Parse(e.Data);
            return data.RootElement.TryGetProperty("percent", out var value)
                   && int.TryParse(value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var percent)
                ? percent
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
