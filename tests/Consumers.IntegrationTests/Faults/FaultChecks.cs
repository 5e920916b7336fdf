using System.Globalization;
using System.Text.RegularExpressions;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Faults;

/// <summary>What every fault test checks afterwards, and the small moves they share.</summary>
internal static partial class FaultChecks
{
    /// <summary>Long variants (5-minute outage, 10-minute idle transaction) run only with CONSUMERS_FAULTS_LONG=1.</summary>
    public static bool LongRuns => Environment.GetEnvironmentVariable("CONSUMERS_FAULTS_LONG") == "1";

    /// <summary>A synthetic request as a producer in another language would publish it: plain JSON, no envelope.</summary>
    public static (Guid JobId, string Json) PlainRequest(string outputKey, int durationMs)
    {
        var id = Guid.NewGuid();
        var json = "{\"jobId\":\"" + id + "\",\"stage\":\"synthetic\",\"outputKey\":\"" + outputKey +
                   "\",\"parameters\":{\"durationMs\":\"" + durationMs.ToString(CultureInfo.InvariantCulture) + "\"}}";
        return (id, json);
    }

    /// <summary>Waits for every job to end, then: all succeeded (none lost, none failed), at most one <c>completed</c> each,
    /// nothing in the job queue's error queue, every timeline valid.</summary>
    public static async Task AssertAllSucceededOnceAsync(TestEnvironment env, IReadOnlyCollection<Guid> jobs, TimeSpan timeout)
    {
        // The test's own pooled connections did not survive the fault either.
        env.DataSource.Clear();
        foreach (var job in jobs)
        {
            var finished = await env.WaitForTerminalAsync(job, timeout);
            Assert.True(finished.Status == JobStatuses.Succeeded, $"job {job} ended {finished.Status}: {finished.LastErrorCode} {finished.LastErrorMessage}");
        }

        Assert.Equal(jobs.Count, await env.CountAsync("SELECT count(*) FROM jobs WHERE status = 'succeeded'"));
        Assert.Equal(0, await env.CountAsync(
            "SELECT count(*) FROM (SELECT job_id FROM job_events WHERE type = 'completed' GROUP BY job_id HAVING count(*) > 1) twice"));
        Assert.True((await env.Rabbit.QueueDepthAsync(env.VirtualHost, "consumers.jobs_error") ?? 0) == 0, "a valid job went to consumers.jobs_error");
        await env.AssertAllTimelinesValidAsync();
    }

    /// <summary>Waits until the worker's <c>database_available</c> gauge reads <paramref name="value"/>.</summary>
    public static Task WaitForDatabaseAvailableAsync(WorkerProcess worker, int value, TimeSpan timeout) =>
        Eventually.WaitAsync(async () => Gauge(await worker.ScrapeAsync(), "database_available") == value, timeout,
            () => $"{worker.WorkerId}: database_available never read {value}");

    /// <summary>How often the worker has logged that its job intake opened again (its endpoints were started and Ready).</summary>
    public static int IntakeReopenings(WorkerProcess worker) => CountOf(worker.ReadLog(), "Job intake open again");

    /// <summary>
    /// Waits until the worker logs one more reopening of its intake than <paramref name="before"/>: its consumers are
    /// registered with the broker again. <c>database_available</c> and readiness turn before that, while the endpoints
    /// are still starting, so new messages published then could all go to other workers.
    /// </summary>
    public static Task WaitForIntakeReopenedAsync(WorkerProcess worker, int before, TimeSpan timeout) =>
        Eventually.WaitAsync(() => Task.FromResult(IntakeReopenings(worker) > before), timeout,
            () => $"{worker.WorkerId}: the job intake never opened again");

    private static int CountOf(string text, string line)
    {
        var count = 0;
        for (var at = text.IndexOf(line, StringComparison.Ordinal); at >= 0; at = text.IndexOf(line, at + line.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    public static double? Gauge(string prometheusText, string name)
    {
        foreach (var line in prometheusText.Split('\n'))
        {
            var match = GaugeLine().Match(line);
            if (match.Success && match.Groups[1].Value == name)
            {
                return double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    [GeneratedRegex(@"^([a-z_]+)(?:\{[^}]*\})? ([0-9.eE+-]+)")]
    private static partial Regex GaugeLine();
}
