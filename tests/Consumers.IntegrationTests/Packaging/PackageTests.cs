using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Xml.Linq;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;

namespace Consumers.IntegrationTests.Packaging;

/// <summary>
/// The packages a user installs, built by <c>dotnet pack</c> into a local folder feed and used from there as a user
/// would: a producer that references only the contracts package (and MassTransit) submits a job, and the
/// <c>consumers</c> tool installed with <c>dotnet tool install</c> shows it.
/// </summary>
public sealed class PackageTests : IAsyncLifetime
{
    private TestEnvironment env = null!;
    private string work = null!;

    public async Task InitializeAsync()
    {
        env = await TestEnvironment.CreateAsync();
        work = Directory.CreateTempSubdirectory("consumers-packages-").FullName;
    }

    public async Task DisposeAsync()
    {
        await env.DisposeAsync();
        Directory.Delete(work, recursive: true);
    }

    [Fact]
    public async Task Packed_contracts_and_tool_work_from_a_local_feed_with_real_metadata()
    {
        var feed = Directory.CreateDirectory(Path.Combine(work, "feed")).FullName;
        foreach (var project in new[] { "src/Consumers.Contracts/Consumers.Contracts.csproj", "src/Consumers.Worker/Consumers.Worker.csproj" })
        {
            await RunAsync("dotnet", ["pack", Path.Combine(StackSettings.RepositoryRoot, project), "-c", "Release", "-o", feed, "--nologo"], work, TimeSpan.FromMinutes(5));
        }

        var contracts = Assert.Single(Directory.GetFiles(feed, "Consumers.Contracts.*.nupkg"));
        var version = Path.GetFileNameWithoutExtension(contracts)["Consumers.Contracts.".Length..];
        var nuspec = ReadNuspec(contracts, out var entries);
        XNamespace ns = nuspec.Root!.Name.NamespaceName;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.Equal("MIT", metadata.Element(ns + "license")?.Value);
        Assert.DoesNotContain("Package Description", metadata.Element(ns + "description")!.Value, StringComparison.Ordinal);
        Assert.NotEqual("1.0.0", version);
        Assert.Contains("lib/netstandard2.0/Consumers.Contracts.dll", entries);
        Assert.Contains("lib/net10.0/Consumers.Contracts.dll", entries);
        Assert.Contains("README.md", entries);
        Assert.All(metadata.Descendants(ns + "dependency"), d => Assert.Equal("MassTransit.Abstractions", d.Attribute("id")!.Value));

        // A producer outside this repository: the contracts package, MassTransit, and the sample's Program.cs.
        var producer = Directory.CreateDirectory(Path.Combine(work, "producer")).FullName;
        File.Copy(Path.Combine(StackSettings.RepositoryRoot, "samples", "Consumers.SampleProducer", "Program.cs"), Path.Combine(producer, "Program.cs"));
        await File.WriteAllTextAsync(Path.Combine(producer, "Producer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings><Nullable>enable</Nullable></PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Consumers.Contracts" Version="{version}" />
                <PackageReference Include="MassTransit.RabbitMQ" Version="8.5.12" />
                <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="10.0.15" />
              </ItemGroup>
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(producer, "nuget.config"), $"""
            <configuration><packageSources><add key="local" value="{feed}" /></packageSources></configuration>
            """);
        await RunAsync("dotnet", ["build", "-c", "Release", "--nologo", "-o", Path.Combine(producer, "out")], producer, TimeSpan.FromMinutes(5));
        var references = await RunAsync("dotnet", ["list", "package", "--include-transitive"], producer, TimeSpan.FromMinutes(2));
        Assert.DoesNotContain("Consumers.Runtime", references, StringComparison.Ordinal);

        await env.StartWorkerAsync();
        env.CreateMediaFile("packaged.bin", 4096);
        var jobId = Guid.NewGuid();
        await RunAsync("dotnet", [Path.Combine(producer, "out", "Producer.dll"), "--host", StackSettings.RabbitHost,
            "--port", StackSettings.RabbitPort.ToString(CultureInfo.InvariantCulture), "--vhost", env.VirtualHost,
            "--user", StackSettings.RabbitUser, "--password", StackSettings.RabbitPassword, "--job", $"{jobId},manifest,packaged.bin,packaged.json"],
            producer, TimeSpan.FromMinutes(1));
        Assert.Equal(JobStatuses.Succeeded, (await env.WaitForTerminalAsync(jobId, TimeSpan.FromSeconds(60))).Status);

        // The tool, installed from the same feed, is the consumers command.
        var tools = Path.Combine(work, "tools");
        await RunAsync("dotnet", ["tool", "install", "--tool-path", tools, "--add-source", feed, "Consumers.Tool", "--version", version], work, TimeSpan.FromMinutes(3));
        var shown = await RunAsync(Path.Combine(tools, "consumers"),
            ["show", jobId.ToString(), "--set", "Consumers:Database:ConnectionString=" + env.ConnectionString], work, TimeSpan.FromMinutes(1));
        Assert.Contains("succeeded", shown, StringComparison.Ordinal);
    }

    private static XDocument ReadNuspec(string package, out List<string> entries)
    {
        using var zip = ZipFile.OpenRead(package);
        entries = [.. zip.Entries.Select(e => e.FullName)];
        using var stream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        return XDocument.Load(stream);
    }

    private static async Task<string> RunAsync(string file, string[] args, string workingDirectory, TimeSpan bound)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(bound);
        await process.WaitForExitAsync(timeout.Token);
        var all = await output + await error;
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {process.ExitCode}:\n{all}");
        return all;
    }
}
