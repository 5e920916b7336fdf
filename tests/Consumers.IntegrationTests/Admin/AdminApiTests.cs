using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime;
using RabbitMQ.Client;
using static Consumers.IntegrationTests.Admin.AdminClient;

namespace Consumers.IntegrationTests.Admin;

/// <summary>
/// The admin API on the real stack: the server as <c>consumers serve</c> runs it and inside a worker, against a real
/// database and broker. Lists and filters, a job with its timeline, every action through the control code with the
/// caller recorded, refusals (401 without a key, 403 for a viewer's action), problem details naming the field, and
/// the OpenAPI document.
/// </summary>
public sealed class AdminApiTests : IAsyncLifetime
{
    private static readonly string[] ReadPaths =
        ["/api/overview", "/api/jobs", "/api/stuck", "/api/lanes", "/api/pauses", "/api/dead-letters", "/api/audit", "/api/me"];

    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task Without_a_known_key_everything_is_refused_with_401_and_a_viewer_may_read_but_every_action_is_refused_with_403()
    {
        var job = TestEnvironment.SyntheticJob("out/guarded.json");
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        var (server, services) = await ServeAsync(env);
        await using var runtime = services;
        await using var serving = server;
        using var anonymous = For(server.Address, null);
        using var wrong = For(server.Address, "not-a-key-of-anyone-here");
        using var wrongName = Basic(server.Address, Viewer, OperatorKey);
        using var viewer = For(server.Address, ViewerKey);
        string[] actions =
        [
            $"/api/jobs/{job.JobId}/cancel", $"/api/jobs/{job.JobId}/requeue", "/api/stages/synthetic/pause", "/api/stages/synthetic/resume",
            "/api/dead-letters/replay",
        ];

        foreach (var path in ReadPaths)
        {
            AssertProblem(await GetAsync(anonymous, path), HttpStatusCode.Unauthorized);
            AssertProblem(await GetAsync(wrong, path), HttpStatusCode.Unauthorized);
            AssertProblem(await GetAsync(wrongName, path), HttpStatusCode.Unauthorized);
            var read = await GetAsync(viewer, path);
            Assert.True(read.Status == HttpStatusCode.OK, $"{path}: {read.Status} {read.Body}");
        }

        foreach (var path in actions)
        {
            AssertProblem(await PostAsync(anonymous, path, new { reason = "x", all = true }), HttpStatusCode.Unauthorized);
            var refused = await PostAsync(viewer, path, new { reason = "x", all = true });
            AssertProblem(refused, HttpStatusCode.Forbidden);
            Assert.Contains(Viewer, refused.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // Refused means nothing happened.
        Assert.Equal(JobStatuses.Queued, (await env.JobAsync(job.JobId))!.Status);
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM stage_pauses"));
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM operator_actions"));

        using var basic = Basic(server.Address, Operator, OperatorKey);
        var me = await GetAsync(basic, "/api/me");
        Assert.Equal(Operator, me.Body.GetProperty("name").GetString());
        Assert.Equal("Operator", me.Body.GetProperty("role").GetString());
    }

    [Fact]
    public async Task Jobs_are_listed_filtered_searched_paged_and_shown_with_their_timeline_and_bad_queries_get_problem_details_naming_the_field()
    {
        var synthetic = new List<JobRequested>();
        for (var i = 0; i < 5; i++)
        {
            synthetic.Add(TestEnvironment.SyntheticJob($"out/s{i}.json"));
            await env.Store.SubmitAsync(synthetic[^1], 3, CancellationToken.None);
        }

        var manifests = new[] { TestEnvironment.ManifestJob("a.bin", "out/a.json"), TestEnvironment.ManifestJob("b.bin", "out/b.json") };
        foreach (var job in manifests)
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        var rejected = TestEnvironment.SyntheticJob("out/rejected.json");
        await env.Store.RejectAsync(rejected, 3, ErrorCodes.InvalidRequest, "source holds a NUL", "source", CancellationToken.None);
        var (server, services) = await ServeAsync(env);
        await using var runtime = services;
        await using var serving = server;
        using var viewer = For(server.Address, ViewerKey);

        var all = (await GetAsync(viewer, "/api/jobs")).Body;
        Assert.Equal(8, all.GetProperty("total").GetInt32());
        Assert.Equal(7, all.GetProperty("counts").GetProperty("queued").GetInt32());
        Assert.Equal(1, all.GetProperty("counts").GetProperty("failed").GetInt32());

        var failed = (await GetAsync(viewer, "/api/jobs?status=failed")).Body;
        Assert.Equal(rejected.JobId, Assert.Single(failed.GetProperty("jobs").EnumerateArray()).GetProperty("id").GetGuid());
        Assert.Equal("source holds a NUL", failed.GetProperty("jobs")[0].GetProperty("lastErrorMessage").GetString());

        var byStage = (await GetAsync(viewer, "/api/jobs?stage=manifest")).Body;
        Assert.Equal(manifests.Select(j => j.JobId).Order(), byStage.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("id").GetGuid()).Order());
        var queuedSynthetic = (await GetAsync(viewer, "/api/jobs?stage=synthetic&status=queued")).Body;
        Assert.Equal(5, queuedSynthetic.GetProperty("total").GetInt32());

        var target = synthetic[2].JobId;
        var found = (await GetAsync(viewer, "/api/jobs?search=" + target.ToString()[^8..])).Body;
        Assert.Equal(target, Assert.Single(found.GetProperty("jobs").EnumerateArray()).GetProperty("id").GetGuid());

        // Pages: newest first, no job twice, every job once.
        var pages = new List<Guid>();
        for (var offset = 0; offset < 8; offset += 3)
        {
            var page = (await GetAsync(viewer, $"/api/jobs?limit=3&offset={offset}")).Body;
            Assert.Equal(8, page.GetProperty("total").GetInt32());
            pages.AddRange(page.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("id").GetGuid()));
        }

        Assert.Equal(8, pages.Distinct().Count());

        var shown = await GetAsync(viewer, "/api/jobs/" + target.ToString()[..8]);
        Assert.Equal(HttpStatusCode.OK, shown.Status);
        Assert.Equal(target, shown.Body.GetProperty("job").GetProperty("id").GetGuid());
        Assert.Equal(TimelineEventTypes.Requested, Assert.Single(shown.Body.GetProperty("timeline").EnumerateArray()).GetProperty("type").GetString());
        var rejectedShown = (await GetAsync(viewer, $"/api/jobs/{rejected.JobId}")).Body;
        Assert.Equal([TimelineEventTypes.Requested, TimelineEventTypes.Failed],
            rejectedShown.GetProperty("timeline").EnumerateArray().Select(e => e.GetProperty("type").GetString()));
        Assert.Equal("source", rejectedShown.GetProperty("timeline")[1].GetProperty("data").GetProperty("field").GetString());

        var stuck = (await GetAsync(viewer, "/api/stuck?queuedMinutes=0.0001")).Body;
        Assert.Equal(7, stuck.GetArrayLength());
        Assert.All(stuck.EnumerateArray(), s => Assert.StartsWith("queued for", s.GetProperty("why").GetString(), StringComparison.Ordinal));
        Assert.Equal(0, (await GetAsync(viewer, "/api/stuck")).Body.GetArrayLength());

        var overview = (await GetAsync(viewer, "/api/overview")).Body;
        Assert.Equal(7, overview.GetProperty("statuses").GetProperty("queued").GetInt32());
        Assert.Equal(1, overview.GetProperty("statuses").GetProperty("failed").GetInt32());
        Assert.Contains(overview.GetProperty("stages").EnumerateArray(),
            s => s.GetProperty("stage").GetString() == "manifest" && s.GetProperty("status").GetString() == "queued" && s.GetProperty("count").GetInt32() == 2);
        Assert.Equal(1, overview.GetProperty("throughput").EnumerateArray().Sum(t => t.GetProperty("failed").GetInt32()));
        Assert.Contains(overview.GetProperty("lanes").GetProperty("lanes").EnumerateArray(), l => l.GetProperty("name").GetString() == "transcode");

        AssertProblem(await GetAsync(viewer, $"/api/jobs/{Guid.NewGuid()}"), HttpStatusCode.NotFound);
        AssertFieldProblem(await GetAsync(viewer, "/api/jobs?status=finished"), "status");
        AssertFieldProblem(await GetAsync(viewer, "/api/jobs?limit=0"), "limit");
        AssertFieldProblem(await GetAsync(viewer, "/api/jobs?limit=201"), "limit");
        AssertFieldProblem(await GetAsync(viewer, "/api/jobs?offset=-1"), "offset");
        AssertFieldProblem(await GetAsync(viewer, "/api/jobs?search=zz"), "search");
        AssertFieldProblem(await GetAsync(viewer, "/api/jobs/xyz"), "id");
        AssertFieldProblem(await GetAsync(viewer, "/api/stuck?queuedMinutes=0"), "queuedMinutes");
        AssertFieldProblem(await GetAsync(viewer, "/api/audit?limit=100000"), "limit");
        var unparsable = await GetAsync(viewer, "/api/jobs?limit=ten");
        AssertProblem(unparsable, HttpStatusCode.BadRequest);
        Assert.Contains("limit", unparsable.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_action_goes_through_the_control_code_and_the_audit_and_timeline_name_who_did_it()
    {
        var queued = TestEnvironment.SyntheticJob("out/to-cancel.json");
        await env.Store.SubmitAsync(queued, 3, CancellationToken.None);
        var rejected = TestEnvironment.SyntheticJob("out/to-requeue.json");
        await env.Store.RejectAsync(rejected, 3, ErrorCodes.InvalidRequest, "was bad", "source", CancellationToken.None);
        var (server, services) = await ServeAsync(env);
        await using var runtime = services;
        await using var serving = server;
        using var op = For(server.Address, OperatorKey);

        // Cancel a queued job: at once, in its timeline and the audit, by the credential's name.
        var cancelled = await PostAsync(op, $"/api/jobs/{queued.JobId}/cancel", new { reason = "wrong clip" });
        Assert.Equal(HttpStatusCode.OK, cancelled.Status);
        Assert.Equal("cancelled", cancelled.Body.GetProperty("outcome").GetString());
        Assert.Equal(JobStatuses.Cancelled, (await env.JobAsync(queued.JobId))!.Status);
        var cancelEvent = JsonDocument.Parse((await env.TimelineAsync(queued.JobId))[^1].Data).RootElement;
        Assert.Equal(Operator, cancelEvent.GetProperty("by").GetString());
        Assert.Equal("wrong clip", cancelEvent.GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(op, $"/api/jobs/{queued.JobId}/cancel")).Status);
        AssertProblem(await PostAsync(op, $"/api/jobs/{Guid.NewGuid()}/cancel"), HttpStatusCode.NotFound);
        AssertFieldProblem(await PostAsync(op, "/api/jobs/not-a-guid/cancel"), "id");

        // Requeue: only failed (or queued) jobs, only with a reason.
        AssertProblem(await PostAsync(op, $"/api/jobs/{queued.JobId}/requeue", new { reason = "again" }), HttpStatusCode.Conflict);
        AssertFieldProblem(await PostAsync(op, $"/api/jobs/{rejected.JobId}/requeue", new { reason = " " }), "reason");
        AssertFieldProblem(await PostAsync(op, $"/api/jobs/{rejected.JobId}/requeue"), "reason");
        var requeued = await PostAsync(op, $"/api/jobs/{rejected.JobId}/requeue", new { reason = "source fixed" });
        Assert.Equal(HttpStatusCode.OK, requeued.Status);
        Assert.Equal(JobStatuses.Queued, (await env.JobAsync(rejected.JobId))!.Status);
        var requeueEvent = (await env.TimelineAsync(rejected.JobId))[^1];
        Assert.Equal(TimelineEventTypes.Requeued, requeueEvent.Type);
        var requeueData = JsonDocument.Parse(requeueEvent.Data).RootElement;
        Assert.Equal(Operator, requeueData.GetProperty("by").GetString());
        Assert.Equal("source fixed", requeueData.GetProperty("note").GetString());

        // Pause and resume a stage.
        Assert.Equal("paused", (await PostAsync(op, "/api/stages/synthetic/pause", new { reason = "bad build" })).Body.GetProperty("outcome").GetString());
        Assert.Equal("already_paused", (await PostAsync(op, "/api/stages/synthetic/pause")).Body.GetProperty("outcome").GetString());
        var pause = Assert.Single((await GetAsync(op, "/api/pauses")).Body.EnumerateArray());
        Assert.Equal(Operator, pause.GetProperty("pausedBy").GetString());
        Assert.Equal("bad build", pause.GetProperty("reason").GetString());
        Assert.Equal("synthetic", Assert.Single((await GetAsync(op, "/api/lanes")).Body.GetProperty("pauses").EnumerateArray()).GetProperty("stage").GetString());
        AssertFieldProblem(await PostAsync(op, "/api/stages/synthetc/pause"), "stage");
        Assert.Equal("resumed", (await PostAsync(op, "/api/stages/synthetic/resume")).Body.GetProperty("outcome").GetString());
        Assert.Equal("not_paused", (await PostAsync(op, "/api/stages/synthetic/resume")).Body.GetProperty("outcome").GetString());
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM stage_pauses"));

        // Dead letters: one valid, one not; replay the valid one by id.
        var errorQueue = ContractNames.JobQueue + "_error";
        await env.Rabbit.DeclareQueueAsync(env.VirtualHost, errorQueue);
        await env.Rabbit.DeclareQueueAsync(env.VirtualHost, ContractNames.JobQueue);
        var lost = TestEnvironment.SyntheticJob("out/lost.json");
        var validId = await PublishDeadLetterAsync(JsonSerializer.Serialize(lost, ContractJson.Options));
        var invalidId = await PublishDeadLetterAsync("""{"stage":"synthetic"}""");
        var letters = (await GetAsync(op, "/api/dead-letters")).Body;
        Assert.Equal(2, letters.GetArrayLength());
        Assert.Equal(lost.JobId, letters.EnumerateArray().Single(l => l.GetProperty("valid").GetBoolean()).GetProperty("jobId").GetGuid());
        AssertFieldProblem(await PostAsync(op, "/api/dead-letters/replay", new { }), "messageId");
        AssertFieldProblem(await PostAsync(op, "/api/dead-letters/replay", new { messageId = validId, all = true }), "messageId");
        AssertFieldProblem(await PostAsync(op, "/api/dead-letters/replay", new { all = true, queue = "consumers.jobs" }), "queue");
        AssertFieldProblem(await GetAsync(op, "/api/dead-letters?queue=nope"), "queue");
        AssertProblem(await PostAsync(op, "/api/dead-letters/replay", new { messageId = invalidId }), HttpStatusCode.NotFound);
        var replayed = await PostAsync(op, "/api/dead-letters/replay", new { messageId = validId });
        Assert.Equal(HttpStatusCode.OK, replayed.Status);
        Assert.Equal(1, replayed.Body.GetProperty("replayed").GetInt32());
        // The management API's counts lag a few seconds behind the broker.
        await Eventually.WaitAsync(async () => await env.Rabbit.QueueDepthAsync(env.VirtualHost, ContractNames.JobQueue) == 1
                                               && await env.Rabbit.QueueDepthAsync(env.VirtualHost, errorQueue) == 1,
            TimeSpan.FromSeconds(30), () => "the replayed message is not alone in the job queue, or the invalid one left the error queue");
        Assert.False(Assert.Single((await GetAsync(op, "/api/dead-letters")).Body.EnumerateArray()).GetProperty("valid").GetBoolean());

        // A body that is not JSON is a problem too.
        using var raw = new HttpRequestMessage(HttpMethod.Post, "/api/dead-letters/replay") { Content = new StringContent("{not json", System.Text.Encoding.UTF8, "application/json") };
        using var rawResponse = await op.SendAsync(raw);
        Assert.Equal(HttpStatusCode.BadRequest, rawResponse.StatusCode);
        Assert.Equal("application/problem+json", rawResponse.Content.Headers.ContentType?.MediaType);

        var audit = (await GetAsync(op, "/api/audit?limit=50")).Body.EnumerateArray().ToList();
        Assert.All(audit, a => Assert.Equal(Operator, a.GetProperty("by").GetString()));
        string[] expected = ["cancel", "requeue", "pause", "resume", "dead-letter-replay"];
        Assert.All(expected, action => Assert.Contains(audit, a => a.GetProperty("action").GetString() == action));
        Assert.Equal(1, await env.CountAsync($"SELECT count(*) FROM operator_actions WHERE action = 'requeue' AND target = '{rejected.JobId}' AND outcome = 'requeued' AND by = '{Operator}'"));
        // One job's actions, newest first: the refused requeue is recorded too.
        var forJob = (await GetAsync(op, $"/api/audit?target={queued.JobId}")).Body;
        Assert.Equal(["requeue", "cancel", "cancel"], forJob.EnumerateArray().Select(a => a.GetProperty("action").GetString()));
        Assert.Equal(["refused_cancelled", "already_finished", "cancelled"], forJob.EnumerateArray().Select(a => a.GetProperty("outcome").GetString()));
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task A_running_job_is_shown_in_its_lane_and_cancelled_through_the_admin_server_inside_a_worker()
    {
        var worker = await env.StartWorkerAsync("worker-a", Settings());
        var address = AddressOf(worker);
        using var op = For(address, OperatorKey);
        var job = TestEnvironment.SyntheticJob("out/slow.json", ("durationMs", "120000"), ("steps", "120"));
        await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        await Eventually.WaitAsync(async () => (await env.JobAsync(job.JobId))?.Status == JobStatuses.Processing,
            TimeSpan.FromSeconds(30), () => "the job never started");

        var lanes = (await GetAsync(op, "/api/lanes")).Body;
        Assert.Equal(1, lanes.GetProperty("lanes").EnumerateArray().Single(l => l.GetProperty("name").GetString() == "shared").GetProperty("running").GetInt32());
        Assert.Equal("worker-a", Assert.Single(lanes.GetProperty("workers").EnumerateArray()).GetProperty("workerId").GetString());
        await Eventually.WaitAsync(async () => (await GetAsync(op, $"/api/jobs/{job.JobId}")).Body.GetProperty("job").GetProperty("progressPercent").ValueKind == JsonValueKind.Number,
            TimeSpan.FromSeconds(30), () => "no progress shown");

        var asked = Stopwatch.StartNew();
        var cancel = await PostAsync(op, $"/api/jobs/{job.JobId}/cancel", new { reason = "customer withdrew" });
        Assert.Equal(HttpStatusCode.Accepted, cancel.Status);
        Assert.Equal("requested", cancel.Body.GetProperty("outcome").GetString());
        var row = await env.WaitForTerminalAsync(job.JobId, TimeSpan.FromSeconds(30));
        Assert.Equal(JobStatuses.Cancelled, row.Status);
        Assert.True(asked.Elapsed < TimeSpan.FromSeconds(10), $"the cancel took {asked.Elapsed.TotalSeconds:F1}s");
        var shown = (await GetAsync(op, $"/api/jobs/{job.JobId}")).Body;
        var last = shown.GetProperty("timeline").EnumerateArray().Last();
        Assert.Equal(TimelineEventTypes.Cancelled, last.GetProperty("type").GetString());
        Assert.Equal(Operator, last.GetProperty("data").GetProperty("by").GetString());
        Assert.Equal("running", last.GetProperty("data").GetProperty("where").GetString());
        await env.AssertAllTimelinesValidAsync();
    }

    [Fact]
    public async Task The_openapi_document_describes_every_endpoint_and_both_ways_to_authenticate()
    {
        var (server, services) = await ServeAsync(env);
        await using var runtime = services;
        await using var serving = server;
        using var anonymous = For(server.Address, null);

        var document = await GetAsync(anonymous, Consumers.Admin.AdminServer.OpenApiPath);

        Assert.Equal(HttpStatusCode.OK, document.Status);
        var paths = document.Body.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        string[] expected =
        [
            "/api/overview", "/api/audit", "/api/me", "/api/jobs", "/api/jobs/{id}", "/api/stuck", "/api/jobs/{id}/cancel", "/api/jobs/{id}/requeue",
            "/api/lanes", "/api/pauses", "/api/stages/{stage}/pause", "/api/stages/{stage}/resume", "/api/dead-letters", "/api/dead-letters/replay",
        ];
        Assert.Equal(expected.Order(), paths.Order());
        var jobs = document.Body.GetProperty("paths").GetProperty("/api/jobs").GetProperty("get");
        Assert.Equal(["status", "stage", "search", "offset", "limit"], jobs.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
        var cancel = document.Body.GetProperty("paths").GetProperty("/api/jobs/{id}/cancel").GetProperty("post").GetProperty("responses");
        Assert.Equal(["200", "202", "400", "401", "403", "404", "409"], cancel.EnumerateObject().Select(r => r.Name).Order());
        var list = document.Body.GetProperty("paths").GetProperty("/api/jobs").GetProperty("get").GetProperty("responses");
        Assert.Equal(["200", "400", "401"], list.EnumerateObject().Select(r => r.Name).Order());
        var schemes = document.Body.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("X-Api-Key", schemes.GetProperty("apiKey").GetProperty("name").GetString());
        Assert.Equal("basic", schemes.GetProperty("basic").GetProperty("scheme").GetString());
        Assert.Equal(2, document.Body.GetProperty("security").GetArrayLength());
    }

    [Fact]
    public async Task The_serve_verb_refuses_to_run_open_and_serves_the_api_and_dashboard_with_credentials()
    {
        var (exit, output, error) = await Cli.RunAsync(env, "serve", "--port", "0");
        Assert.True(exit == 2, $"exit {exit}: {output}{error}");
        Assert.Contains("Consumers:Admin:Operators must name at least one credential", error, StringComparison.Ordinal);

        (exit, _, error) = await Cli.RunAsync(env, "serve", "--port", "0", "--set", "Consumers:Admin:Viewers:eve=short");
        Assert.Equal(2, exit);
        Assert.Contains("Consumers:Admin:Viewers:eve key must be at least 16 characters", error, StringComparison.Ordinal);

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "consumers.dll"), "serve", "--port", "0" })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in env.WorkerSettings("serve", Settings()))
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        using var process = Process.Start(start)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            // The address line, whatever the log printed before it.
            var printed = new List<string>();
            Uri? address = null;
            while (address is null && await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                printed.Add(line);
                if (line.StartsWith("admin API and dashboard on http://127.0.0.1:", StringComparison.Ordinal))
                {
                    address = new Uri(line.Split(' ')[5]);
                }
            }

            Assert.True(address is not null, "serve printed no address: " + string.Join('\n', printed));
            using var viewer = For(address, ViewerKey);
            Assert.Equal(Viewer, (await GetAsync(viewer, "/api/me")).Body.GetProperty("name").GetString());
            using var page = await viewer.GetAsync("/");
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            Assert.Contains("/dashboard/app.js", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            using var script = await viewer.GetAsync("/dashboard/app.js");
            Assert.Equal(HttpStatusCode.OK, script.StatusCode);
            using var missing = await viewer.GetAsync("/dashboard/nothing.js");
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

            // SIGTERM ends it cleanly.
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(timeout.Token);
            }

            await process.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private async Task<string> PublishDeadLetterAsync(string body)
    {
        var factory = new ConnectionFactory
        {
            HostName = StackSettings.RabbitHost,
            Port = StackSettings.RabbitPort,
            UserName = StackSettings.RabbitUser,
            Password = StackSettings.RabbitPassword,
            VirtualHost = env.VirtualHost,
        };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var messageId = Guid.NewGuid().ToString();
        var properties = new BasicProperties
        {
            MessageId = messageId,
            ContentType = "application/json",
            Persistent = true,
            Headers = new Dictionary<string, object?>
            {
                ["MT-Reason"] = "fault",
                ["MT-Fault-ExceptionType"] = "Npgsql.NpgsqlException",
                ["MT-Fault-Message"] = "Failed to connect to 127.0.0.1:54329",
            },
        };
        await channel.BasicPublishAsync("", ContractNames.JobQueue + "_error", true, properties, System.Text.Encoding.UTF8.GetBytes(body));
        return messageId;
    }
}
