using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using static Consumers.IntegrationTests.Admin.AdminClient;

namespace Consumers.IntegrationTests.Admin;

/// <summary>
/// The CLI and the admin API read jobs through one read model (<c>JobQueries</c> and its views): the API's job is the
/// CLI's <c>--json</c> job without the CLI's bookkeeping fields, value for value, and the admin server holds no SQL.
/// </summary>
public sealed class SharedReadModelTests : IAsyncLifetime
{
    // The API's job fields, as before the views were shared: its JSON must not change.
    private static readonly string[] ApiJobFields =
    [
        "id", "stage", "status", "source", "outputKey", "chargedAttempts", "maxAttempts", "leaseOwner", "lastHeartbeatAt", "notBefore",
        "progressPercent", "lastErrorCode", "lastErrorMessage", "artifactKey", "artifactSize", "artifactSha256", "cancelRequestedAt",
        "cancelBy", "createdAt", "updatedAt", "finishedAt", "request",
    ];

    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task The_api_and_the_cli_show_a_job_from_the_same_view()
    {
        var rejected = TestEnvironment.SyntheticJob("out/rejected.json");
        await env.Store.RejectAsync(rejected, 3, ErrorCodes.InvalidRequest, "source holds a NUL", "source", CancellationToken.None);
        var (server, services) = await ServeAsync(env);
        await using var runtime = services;
        await using var serving = server;
        using var viewer = For(server.Address, ViewerKey);

        var api = (await GetAsync(viewer, $"/api/jobs/{rejected.JobId}")).Body;
        var (exit, output, error) = await Cli.RunAsync(env, "show", rejected.JobId.ToString(), "--json");
        Assert.True(exit == 0, output + error);
        var cli = JsonDocument.Parse(output).RootElement;

        var apiJob = api.GetProperty("job");
        Assert.Equal(ApiJobFields, apiJob.EnumerateObject().Select(p => p.Name));
        var cliJob = cli.GetProperty("job");
        foreach (var field in ApiJobFields)
        {
            Assert.True(cliJob.TryGetProperty(field, out var value), $"the CLI's job has no {field}");
            Assert.Equal(apiJob.GetProperty(field).GetRawText(), value.GetRawText());
        }

        // The CLI adds the row's bookkeeping a person debugging a job wants.
        Assert.Equal(0, cliJob.GetProperty("leaseExpiryCount").GetInt32());
        Assert.True(cliJob.TryGetProperty("lastEventSeq", out _));
        Assert.Equal(api.GetProperty("timeline").GetRawText(), cli.GetProperty("timeline").GetRawText());
    }

    [Fact]
    public void The_admin_server_reads_through_the_read_model_and_holds_no_sql_of_its_own()
    {
        var admin = Path.Combine(StackSettings.RepositoryRoot, "src", "Consumers.Admin");
        var withSql = Directory.GetFiles(admin, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => System.Text.RegularExpressions.Regex.IsMatch(File.ReadAllText(f), @"\b(SELECT|INSERT|UPDATE|DELETE)\s+[\w*(]", System.Text.RegularExpressions.RegexOptions.None))
            .Select(f => Path.GetRelativePath(admin, f)).ToList();
        Assert.True(withSql.Count == 0, "SQL in the admin server (reads belong in JobQueries): " + string.Join(", ", withSql));
    }
}
