using System.Globalization;

namespace Consumers.Runtime.Messaging;

/// <summary>One RabbitMQ node the worker may connect to.</summary>
public readonly record struct BrokerNode(string Host, ushort Port)
{
    public override string ToString() => Host + ":" + Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>Reads <c>host</c> or <c>host:port</c>; a node without a port gets <paramref name="defaultPort"/>.</summary>
    public static BrokerNode Parse(string text, ushort defaultPort) =>
        TryParse(text, defaultPort, out var node, out var why) ? node : throw new FormatException($"'{text}': {why}");

    public static bool TryParse(string? text, ushort defaultPort, out BrokerNode node, out string why)
    {
        node = default;
        var value = text?.Trim() ?? "";
        if (value.Length == 0)
        {
            why = "empty; write host or host:port";
            return false;
        }

        var parts = value.Split(':');
        // MassTransit's cluster nodes are split at ':' too, so a bare IPv6 address cannot be told from host:port.
        if (parts.Length > 2)
        {
            why = "write host or host:port (an IPv6 address needs a host name)";
            return false;
        }

        var host = parts[0];
        if (host.Length == 0 || host.Any(char.IsWhiteSpace) || host.Contains('/', StringComparison.Ordinal))
        {
            why = "the host is missing or not a host name";
            return false;
        }

        var port = defaultPort;
        if (parts.Length == 2 && (!ushort.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port == 0))
        {
            why = "the port must be a number 1-65535";
            return false;
        }

        node = new BrokerNode(host, port);
        why = "";
        return true;
    }
}
