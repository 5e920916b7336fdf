using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Consumers.Bench.Infrastructure;

/// <summary>The few RabbitMQ management calls the benchmark needs: its own virtual host, and queue depths.</summary>
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
        using var created = await http.PutAsync(new Uri($"api/vhosts/{Escape(vhost)}", UriKind.Relative), null);
        created.EnsureSuccessStatusCode();
        using var permissions = JsonContent.Create(new { configure = ".*", write = ".*", read = ".*" });
        using var granted = await http.PutAsync(new Uri($"api/permissions/{Escape(vhost)}/{Escape(StackSettings.RabbitUser)}", UriKind.Relative), permissions);
        granted.EnsureSuccessStatusCode();
    }

    public async Task DeleteVirtualHostAsync(string vhost)
    {
        using var response = await http.DeleteAsync(new Uri($"api/vhosts/{Escape(vhost)}", UriKind.Relative));
        if (response.StatusCode != HttpStatusCode.NotFound)
        {
            response.EnsureSuccessStatusCode();
        }
    }

    /// <summary>Messages in a queue (ready + unacknowledged), or null when it does not exist yet.</summary>
    public async Task<long?> QueueDepthAsync(string vhost, string queue)
    {
        using var response = await http.GetAsync(new Uri($"api/queues/{Escape(vhost)}/{Escape(queue)}", UriKind.Relative));
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        var queueInfo = await response.Content.ReadFromJsonAsync<JsonObject>();
        return queueInfo?["messages"]?.GetValue<long>();
    }

    /// <summary>The operating-system pid of the broker node, when the management API tells it (for CPU accounting).</summary>
    public async Task<int?> BrokerPidAsync()
    {
        try
        {
            var nodes = await http.GetFromJsonAsync<JsonArray>(new Uri("api/nodes", UriKind.Relative));
            return nodes?.FirstOrDefault()?["os_pid"]?.ToString() is { } text && int.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                ? pid
                : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    public void Dispose() => http.Dispose();

    private static string Escape(string value) => Uri.EscapeDataString(value);
}
