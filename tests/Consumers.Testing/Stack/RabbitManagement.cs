using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Consumers.Testing.Stack;

/// <summary>The RabbitMQ management HTTP API, as an operator (or a producer in another language) would use it.</summary>
public sealed class RabbitManagement : IDisposable
{
    private readonly HttpClient http;

    public RabbitManagement()
        : this(StackSettings.ManagementUri, TimeSpan.FromSeconds(30))
    {
    }

    /// <summary>The management API of another broker (a node of a private cluster), as the stack's user.</summary>
    public RabbitManagement(Uri managementUri, TimeSpan timeout)
    {
        http = new HttpClient { BaseAddress = managementUri, Timeout = timeout };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{StackSettings.RabbitUser}:{StackSettings.RabbitPassword}")));
    }

    /// <summary>Creates a virtual host and gives the stack's user every permission on it.</summary>
    public async Task CreateVirtualHostAsync(string vhost)
    {
        using var created = await http.PutAsync(Api($"vhosts/{Escape(vhost)}"), null);
        created.EnsureSuccessStatusCode();
        using var permissions = JsonContent.Create(new { configure = ".*", write = ".*", read = ".*" });
        using var granted = await http.PutAsync(Api($"permissions/{Escape(vhost)}/{Escape(StackSettings.RabbitUser)}"), permissions);
        granted.EnsureSuccessStatusCode();
    }

    public async Task DeleteVirtualHostAsync(string vhost)
    {
        using var response = await http.DeleteAsync(Api($"vhosts/{Escape(vhost)}"));
        if (response.StatusCode != HttpStatusCode.NotFound)
        {
            response.EnsureSuccessStatusCode();
        }
    }

    public async Task DeclareQueueAsync(string vhost, string queue)
    {
        using var body = JsonContent.Create(new { durable = true, auto_delete = false });
        using var response = await http.PutAsync(Api($"queues/{Escape(vhost)}/{Escape(queue)}"), body);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Binds <paramref name="queue"/> to a fanout exchange, declaring both if needed.</summary>
    public async Task BindToFanoutAsync(string vhost, string exchange, string queue)
    {
        using var declare = JsonContent.Create(new { type = "fanout", durable = true });
        using (var declared = await http.PutAsync(Api($"exchanges/{Escape(vhost)}/{Escape(exchange)}"), declare))
        {
            declared.EnsureSuccessStatusCode();
        }

        await DeclareQueueAsync(vhost, queue);
        using var bind = JsonContent.Create(new { routing_key = "" });
        using var bound = await http.PostAsync(Api($"bindings/{Escape(vhost)}/e/{Escape(exchange)}/q/{Escape(queue)}"), bind);
        bound.EnsureSuccessStatusCode();
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
        using var content = new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(Api($"exchanges/{Escape(vhost)}/amq.default/publish"), content);
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
        using var body = JsonContent.Create(new { count, ackmode = "ack_requeue_false", encoding = "auto", truncate = 1_000_000 });
        using var response = await http.PostAsync(Api($"queues/{Escape(vhost)}/{Escape(queue)}/get"), body);
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

    /// <summary>A queue as the management API describes it (messages, consumers, ...), or null when it does not exist.</summary>
    public async Task<JsonObject?> QueueAsync(string vhost, string queue)
    {
        using var response = await http.GetAsync(Api($"queues/{Escape(vhost)}/{Escape(queue)}"));
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonObject>();
    }

    /// <summary>Messages in a queue (ready + unacknowledged), or null when it does not exist yet.</summary>
    public async Task<long?> QueueDepthAsync(string vhost, string queue) =>
        (await QueueAsync(vhost, queue))?["messages"]?.GetValue<long>();

    /// <summary>Client connections as the broker lists them: the node each is on and the name the client gave it.</summary>
    public async Task<IReadOnlyList<(string Node, string? Name)>> ConnectionsAsync()
    {
        var connections = await http.GetFromJsonAsync<JsonArray>(Api("connections")) ?? [];
        return [.. connections.Select(c => (c!["node"]!.GetValue<string>(), c["client_properties"]?["connection_name"]?.GetValue<string>()))];
    }

    public async Task<JsonArray> ConsumersAsync(string vhost)
    {
        using var response = await http.GetAsync(Api($"consumers/{Escape(vhost)}"));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonArray>() ?? [];
    }

    /// <summary>The operating-system pid of the broker node, when the management API tells it (for CPU accounting).</summary>
    public async Task<int?> BrokerPidAsync()
    {
        try
        {
            var nodes = await http.GetFromJsonAsync<JsonArray>(Api("nodes"));
            return nodes?.FirstOrDefault()?["os_pid"]?.ToString() is { } text && int.TryParse(text, CultureInfo.InvariantCulture, out var pid)
                ? pid
                : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    public void Dispose() => http.Dispose();

    private static Uri Api(string path) => new("api/" + path, UriKind.Relative);

    private static string Escape(string value) => Uri.EscapeDataString(value);
}

/// <summary>A message read off a queue through the management API.</summary>
public sealed record QueuedMessage(string Payload, JsonObject Headers)
{
    public JsonElement Json => JsonDocument.Parse(Payload).RootElement;

    public string? Header(string name) => Headers[name]?.ToString();
}
