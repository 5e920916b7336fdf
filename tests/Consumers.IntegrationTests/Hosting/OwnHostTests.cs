using System.Net;
using Consumers.Contracts;
using Consumers.Hosting;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Stages;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Consumers.IntegrationTests.Hosting;

/// <summary>
/// The runtime in a host the user builds (as docs/stages.md shows): a stage of their own runs as a job, and the
/// host serves the runtime's /metrics and health endpoints. A host with a bus of its own is refused with the reason.
/// </summary>
public sealed class OwnHostTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_custom_stage_runs_in_the_users_own_host_which_serves_metrics_and_health()
    {
        var port = Testing.Workers.WorkerProcess.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(env.WorkerSettings("own-host"));
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddSingleton<IStage, ShoutStage>();
        builder.AddConsumersWorker();
        await using var app = builder.Build();
        app.MapConsumersEndpoints();
        app.MapGet("/", () => "the user's own endpoint");
        await app.StartAsync();

        var job = new JobRequested { JobId = Guid.NewGuid(), Stage = ShoutStage.StageName, OutputKey = "shout/hello.txt", Parameters = new Dictionary<string, string> { ["text"] = "hello" } };
        await env.Store.SubmitAsync(job, maxAttempts: 2, CancellationToken.None);

        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(60))).Status);
        Assert.Equal("HELLO", await File.ReadAllTextAsync(Path.Combine(env.ArtifactRoot, "shout", "hello.txt")));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("jobs_finished_total{", metrics, StringComparison.Ordinal);
        Assert.Contains($"stage=\"{ShoutStage.StageName}\"", metrics, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode);
        Assert.Equal("the user's own endpoint", await http.GetStringAsync(new Uri("/", UriKind.Relative)));
        await app.StopAsync();
    }

    [Fact]
    public void A_host_with_a_bus_of_its_own_is_refused_with_the_reason()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddMassTransit(x => x.UsingInMemory());

        var refused = Assert.Throws<InvalidOperationException>(() => builder.AddConsumersWorker());

        Assert.Contains("already registered a MassTransit bus", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>A user's stage: writes its <c>text</c> parameter in capitals.</summary>
    private sealed class ShoutStage : IStage
    {
        public const string StageName = "shout";

        public string Name => StageName;

        public bool NeedsSource => false;

        public async Task<StageOutput> RunAsync(StageContext context, CancellationToken cancellationToken)
        {
            var output = Path.Combine(context.ScratchDirectory, "shout.txt");
            await File.WriteAllTextAsync(output, (context.Parameter("text") ?? "").ToUpperInvariant(), cancellationToken);
            context.Progress.Report(100);
            return new StageOutput(output);
        }
    }
}
