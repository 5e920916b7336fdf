using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Consumers.Admin.Access;

/// <summary>
/// Finds the caller of a request: an <c>X-Api-Key</c> header, or HTTP basic authentication with the credential's
/// name as user and its key as password. Keys are compared by their SHA-256 in constant time, so a wrong key
/// takes as long to refuse whatever its first characters are.
/// </summary>
public sealed class AdminCredentials
{
    public const string ApiKeyHeader = "X-Api-Key";

    private readonly List<(byte[] KeyHash, AdminCaller Caller)> known = [];

    public AdminCredentials(IOptions<AdminOptions> options)
    {
        foreach (var (name, key) in options.Value.Viewers)
        {
            known.Add((Hash(key), new AdminCaller(name, AdminRole.Viewer)));
        }

        foreach (var (name, key) in options.Value.Operators)
        {
            known.Add((Hash(key), new AdminCaller(name, AdminRole.Operator)));
        }
    }

    /// <summary>The caller the request's credential names, or null when it has none or a wrong one.</summary>
    public AdminCaller? Identify(HttpRequest request)
    {
        if (request.Headers.TryGetValue(ApiKeyHeader, out var apiKey) && apiKey.Count == 1 && !string.IsNullOrEmpty(apiKey[0]))
        {
            return Match(apiKey[0]!, name: null);
        }

        if (AuthenticationHeaderValue.TryParse(request.Headers.Authorization, out var header)
            && string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) && header.Parameter is { } encoded)
        {
            try
            {
                var pair = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
                var colon = pair.IndexOf(':', StringComparison.Ordinal);
                return colon <= 0 ? null : Match(pair[(colon + 1)..], pair[..colon]);
            }
            catch (FormatException)
            {
                return null;
            }
        }

        return null;
    }

    private AdminCaller? Match(string key, string? name)
    {
        var hash = Hash(key);
        AdminCaller? found = null;
        // Every entry is compared, so the time taken does not say which one matched.
        foreach (var (keyHash, caller) in known)
        {
            if (CryptographicOperations.FixedTimeEquals(keyHash, hash) && (name is null || name == caller.Name))
            {
                found = caller;
            }
        }

        return found;
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
