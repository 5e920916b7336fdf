using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Consumers.Runtime.Flow;
using Consumers.Runtime.Flow.Backpressure;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Messaging;

/// <summary>Reads queue depths from RabbitMQ's management API (<c>Consumers:Flow:Backpressure:ManagementUri</c>) with the broker's account.</summary>
internal sealed class ManagementQueueDepth : IQueueDepthProbe, IDisposable
{
    private readonly HttpClient http;
    private readonly string virtualHost;

    public ManagementQueueDepth(IOptions<RabbitMqOptions> rabbitOptions, IOptions<FlowOptions> flowOptions)
    {
        var rabbit = rabbitOptions.Value;
        virtualHost = rabbit.VirtualHost;
        http = new HttpClient
        {
            BaseAddress = new Uri(flowOptions.Value.Backpressure.ManagementUri.TrimEnd('/') + "/"),
            Timeout = TimeSpan.FromSeconds(5),
        };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{rabbit.Username}:{rabbit.Password}")));
    }

    public async Task<long?> DeepestAsync(IReadOnlyList<string> queues, CancellationToken cancellationToken)
    {
        long? deepest = null;
        foreach (var queue in queues)
        {
            try
            {
                var info = await http.GetFromJsonAsync<JsonObject>($"api/queues/{Uri.EscapeDataString(virtualHost)}/{Uri.EscapeDataString(queue)}", cancellationToken);
                var messages = info?["messages"]?.GetValue<long>() ?? 0;
                deepest = Math.Max(deepest ?? 0, messages);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
            {
                // No answer is no signal: never pause because the monitor itself cannot see.
            }
        }

        return deepest;
    }

    public void Dispose() => http.Dispose();
}
