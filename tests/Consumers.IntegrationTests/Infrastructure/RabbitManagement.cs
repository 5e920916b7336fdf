using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Consumers.IntegrationTests.Infrastructure;

/// <summary>The RabbitMQ management HTTP API, as an operator (or a producer in another language) would use it.</summary>
public sealed class RabbitManagement : IDisposable
{
    private readonly HttpClient http;

    public RabbitManagement()
    {
        http = new HttpClient { BaseAddress = StackSettings.ManagementUri, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{StackSettings.RabbitUser}:{StackSettings.RabbitPassword}")));
    }

    public async Task CreateVirtualHostAsync(string vhost)
    {
        (await http.PutAsync($"api/vhosts/{Escape(vhost)}", null)).EnsureSuccessStatusCode();
        var permissions = JsonContent.Create(new { configure = ".*", write = ".*", read = ".*" });
        (await http.PutAsync($"api/permissions/{Escape(vhost)}/{Escape(StackSettings.RabbitUser)}", permissions)).EnsureSuccessStatusCode();
    }

    public async Task DeleteVirtualHostAsync(string vhost)
    {
        var response = await http.DeleteAsync($"api/vhosts/{Escape(vhost)}");
        if (response.StatusCode != HttpStatusCode.NotFound)
        {
            response.EnsureSuccessStatusCode();
        }
    }

    public async Task DeclareQueueAsync(string vhost, string queue)
    {
        var body = JsonContent.Create(new { durable = true, auto_delete = false });
        (await http.PutAsync($"api/queues/{Escape(vhost)}/{Escape(queue)}", body)).EnsureSuccessStatusCode();
    }

    /// <summary>Binds <paramref name="queue"/> to a fanout exchange, declaring the exchange if needed.</summary>
    public async Task BindToFanoutAsync(string vhost, string exchange, string queue)
    {
        var declare = JsonContent.Create(new { type = "fanout", durable = true });
        (await http.PutAsync($"api/exchanges/{Escape(vhost)}/{Escape(exchange)}", declare)).EnsureSuccessStatusCode();
        await DeclareQueueAsync(vhost, queue);
        var bind = JsonContent.Create(new { routing_key = "" });
        (await http.PostAsync($"api/bindings/{Escape(vhost)}/e/{Escape(exchange)}/q/{Escape(queue)}", bind)).EnsureSuccessStatusCode();
    }

    /// <summary>Publishes a raw body (no MassTransit envelope) to a queue through the default exchange.</summary>
    public async Task PublishToQueueAsync(string vhost, string queue, string body, string? contentType = "application/json")
    {
        var properties = new JsonObject { ["delivery_mode"] = 2 };
        if (contentType is not null)
        {
            properties["content_type"] = contentType;
        }

        var request = new JsonObject
        {
            ["properties"] = properties,
            ["routing_key"] = queue,
            ["payload"] = body,
            ["payload_encoding"] = "string",
        };
        var response = await http.PostAsync($"api/exchanges/{Escape(vhost)}/amq.default/publish",
            new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json"));
        response.EnsureSuccessStatusCode();
        var routed = await response.Content.ReadFromJsonAsync<JsonObject>();
        if (routed?["routed"]?.GetValue<bool>() != true)
        {
            throw new InvalidOperationException($"message to {queue} was not routed (does the queue exist?)");
        }
    }

    /// <summary>Takes up to <paramref name="count"/> messages off a queue (acknowledged: they are gone afterwards).</summary>
    public async Task<IReadOnlyList<QueuedMessage>> TakeAsync(string vhost, string queue, int count)
    {
        var body = JsonContent.Create(new { count, ackmode = "ack_requeue_false", encoding = "auto", truncate = 1_000_000 });
        var response = await http.PostAsync($"api/queues/{Escape(vhost)}/{Escape(queue)}/get", body);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return [];
        }

        response.EnsureSuccessStatusCode();
        var messages = await response.Content.ReadFromJsonAsync<JsonArray>() ?? [];
        return [.. messages.Select(m => new QueuedMessage(
            m!["payload"]!.GetValue<string>(),
            m["properties"]?["headers"] as JsonObject ?? new JsonObject()))];
    }

    public async Task<JsonObject?> QueueAsync(string vhost, string queue)
    {
        var response = await http.GetAsync($"api/queues/{Escape(vhost)}/{Escape(queue)}");
        return response.StatusCode == HttpStatusCode.NotFound ? null : await response.Content.ReadFromJsonAsync<JsonObject>();
    }

    public async Task<JsonArray> ConsumersAsync(string vhost)
    {
        var response = await http.GetAsync($"api/consumers/{Escape(vhost)}");
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonArray>() ?? [];
    }

    public void Dispose() => http.Dispose();

    private static string Escape(string value) => Uri.EscapeDataString(value);
}

/// <summary>A message read off a queue through the management API.</summary>
public sealed record QueuedMessage(string Payload, JsonObject Headers)
{
    public JsonElement Json => JsonDocument.Parse(Payload).RootElement;

    public string? Header(string name) => Headers[name]?.ToString();
}
