using System.Diagnostics;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Foundation;

/// <summary>
/// A .NET producer that references only the contracts and MassTransit, and publishes with a plain
/// <c>bus.Publish</c>, reaches the workers: the exchange name travels with the message type.
/// </summary>
public sealed class DotNetProducerTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task A_plain_publish_from_a_separate_producer_process_runs_the_job()
    {
        await env.StartWorkerAsync();
        env.CreateMediaFile("produced.bin", 2048);
        var jobs = new[] { Guid.NewGuid(), Guid.NewGuid() };

        var output = await RunProducerAsync(jobs.Select((id, i) => $"{id},manifest,produced.bin,produced-{i}.json"));

        foreach (var id in jobs)
        {
            Assert.Contains($"published {id}", output, StringComparison.Ordinal);
            var job = await env.WaitForTerminalAsync(id, TimeSpan.FromSeconds(60));
            Assert.Equal(JobStatuses.Succeeded, job.Status);
        }

        Assert.Equal(0, await env.Rabbit.QueueDepthAsync(env.VirtualHost, "consumers.jobs_error") ?? 0);
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public void The_contracts_name_their_exchanges_and_target_producers_on_older_frameworks()
    {
        Assert.Equal(ContractNames.JobRequestedExchange, EntityNameOf(typeof(JobRequested)));
        Assert.Equal(ContractNames.TimelineExchange, EntityNameOf(typeof(JobTimelineEvent)));
        var netstandard = Path.Combine(StackSettings.RepositoryRoot, "src", "Consumers.Contracts", "bin", Configuration, "netstandard2.0", "Consumers.Contracts.dll");
        Assert.True(File.Exists(netstandard), "no netstandard2.0 build of the contracts at " + netstandard);
    }

    private static string? EntityNameOf(Type type) =>
        type.GetCustomAttributes(typeof(MassTransit.EntityNameAttribute), inherit: false).Cast<MassTransit.EntityNameAttribute>().SingleOrDefault()?.EntityName;

    private static string Configuration =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";

    private async Task<string> RunProducerAsync(IEnumerable<string> jobs)
    {
        var producer = Path.Combine(StackSettings.RepositoryRoot, "samples", "Consumers.SampleProducer", "bin", Configuration, "net10.0", "Consumers.SampleProducer.dll");
        Assert.True(File.Exists(producer), "the sample producer is not built at " + producer);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
                 {
                     producer, "--host", StackSettings.RabbitHost, "--port", StackSettings.RabbitPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--vhost", env.VirtualHost, "--user", StackSettings.RabbitUser, "--password", StackSettings.RabbitPassword,
                 })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var job in jobs)
        {
            start.ArgumentList.Add("--job");
            start.ArgumentList.Add(job);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"producer exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }
}
