using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Consumers.Admin;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Worker.Cli;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Consumers.IntegrationTests.Admin;

/// <summary>The credentials the admin tests configure, and HTTP calls made with them.</summary>
public static class AdminClient
{
    public const string Operator = "alice";
    public const string OperatorKey = "alice-operator-key-0001";
    public const string Viewer = "victor";
    public const string ViewerKey = "victor-viewer-key-0001";

    /// <summary>Settings that turn the admin server on, on a free port, with one operator and one viewer.</summary>
    public static Dictionary<string, string?> Settings() => new()
    {
        ["Consumers:Admin:Enabled"] = "true",
        ["Consumers:Admin:Port"] = "0",
        [$"Consumers:Admin:Operators:{Operator}"] = OperatorKey,
        [$"Consumers:Admin:Viewers:{Viewer}"] = ViewerKey,
    };

    /// <summary>Where the admin server inside <paramref name="worker"/> listens.</summary>
    public static Uri AddressOf(InProcessWorker worker) =>
        worker.Services.GetServices<IHostedService>().OfType<AdminHostedService>().Single().Address
        ?? throw new InvalidOperationException("the worker's admin server did not start");

    /// <summary>
    /// The admin server as <c>consumers serve</c> runs it (the verb's own services, no worker), inside the test process.
    /// </summary>
    public static async Task<(AdminServer Server, ServiceProvider Services)> ServeAsync(TestEnvironment env)
    {
        var settings = env.WorkerSettings("admin", Settings());
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = CliContext.BuildServices(configuration, s => s.AddConsumersAdminSettings(configuration));
        return (await AdminServer.StartAsync(services, CancellationToken.None), services);
    }

    public static HttpClient For(Uri address, string? key)
    {
        var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        if (key is not null)
        {
            http.DefaultRequestHeaders.Add("X-Api-Key", key);
        }

        return http;
    }

    public static HttpClient Basic(Uri address, string user, string key)
    {
        var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{key}")));
        return http;
    }

    public static async Task<(HttpStatusCode Status, JsonElement Body, string? ContentType)> SendAsync(HttpClient http, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), response.Content.Headers.ContentType?.MediaType);
    }

    public static Task<(HttpStatusCode Status, JsonElement Body, string? ContentType)> GetAsync(HttpClient http, string path) =>
        SendAsync(http, HttpMethod.Get, path);

    public static Task<(HttpStatusCode Status, JsonElement Body, string? ContentType)> PostAsync(HttpClient http, string path, object? body = null) =>
        SendAsync(http, HttpMethod.Post, path, body ?? new { });

    /// <summary>Asserts a 400 problem-details answer that names <paramref name="field"/>.</summary>
    public static void AssertFieldProblem((HttpStatusCode Status, JsonElement Body, string? ContentType) response, string field)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal("application/problem+json", response.ContentType);
        Assert.True(response.Body.GetProperty("errors").TryGetProperty(field, out var messages), $"no error for '{field}': {response.Body}");
        Assert.NotEmpty(messages.EnumerateArray());
    }

    public static void AssertProblem((HttpStatusCode Status, JsonElement Body, string? ContentType) response, HttpStatusCode status)
    {
        Assert.True(status == response.Status, $"expected {status}, got {response.Status}: {response.Body}");
        Assert.Equal("application/problem+json", response.ContentType);
        Assert.Equal((int)status, response.Body.GetProperty("status").GetInt32());
    }
}
