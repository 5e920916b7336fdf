using System.Text.Json;

namespace Consumers.Runtime;

/// <summary>The JSON shape of contracts in the database and on the wire: camelCase, like MassTransit's.</summary>
public static class ContractJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web);
}
