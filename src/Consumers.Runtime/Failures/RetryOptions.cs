namespace Consumers.Runtime.Failures;

/// <summary>Settings under <c>Consumers:Retry</c>: the backoff for transient failures.</summary>
public sealed class RetryOptions
{
    public const string Section = "Consumers:Retry";

    public RetryPolicy Default { get; set; } = new();

    /// <summary>Per-code policies overriding <see cref="Default"/> (for example a longer backoff for DEPENDENCY_UNAVAILABLE).</summary>
    public Dictionary<string, RetryPolicy> Codes { get; set; } = new(StringComparer.Ordinal);

    public RetryPolicy For(string code) => Codes.TryGetValue(code, out var policy) ? policy : Default;
}
