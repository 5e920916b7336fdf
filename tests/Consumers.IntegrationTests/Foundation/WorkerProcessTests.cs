using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Foundation;

/// <summary>The <c>consumers run</c> executable, as operators start it.</summary>
public sealed class WorkerProcessTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task Worker_process_runs_a_submitted_job_serves_metrics_and_exits_zero_on_sigterm()
    {
        await using var worker = await env.StartWorkerProcessAsync("proc-a");
        env.CreateMediaFile("p.bin", 5000);
        var request = TestEnvironment.ManifestJob("p.bin", "p.json");

        await env.Store.SubmitAsync(request, 3, CancellationToken.None);

        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(request.JobId)).Status);
        var metrics = await worker.ScrapeAsync();
        Assert.Contains("jobs_finished_total{", metrics, StringComparison.Ordinal);
        Assert.Contains("outcome=\"succeeded\"", metrics, StringComparison.Ordinal);

        worker.Terminate();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await worker.WaitForExitAsync(timeout.Token);
        Assert.Equal(0, worker.ExitCode);
        var started = (await env.TimelineAsync(request.JobId)).Single(e => e.Type == TimelineEventTypes.Started);
        Assert.Equal("proc-a", System.Text.Json.JsonDocument.Parse(started.Data).RootElement.GetProperty("worker").GetString());
    }
}
