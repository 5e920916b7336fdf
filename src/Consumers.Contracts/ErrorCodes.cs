namespace Consumers.Contracts;

/// <summary>
/// Stable failure codes found in timelines, job rows and metrics. What each means and what an operator
/// should do about it is in docs/errors.md; whether it is transient or fatal is decided by the runtime's
/// error catalogue.
/// </summary>
public static class ErrorCodes
{
    public const string SourceNotFound = "SOURCE_NOT_FOUND";
    public const string SourceUnreadable = "SOURCE_UNREADABLE";
    public const string InvalidRequest = "INVALID_REQUEST";
    public const string UnsupportedMedia = "UNSUPPORTED_MEDIA";
    public const string CorruptMedia = "CORRUPT_MEDIA";
    public const string DependencyUnavailable = "DEPENDENCY_UNAVAILABLE";
    public const string Timeout = "TIMEOUT";
    public const string OutOfResources = "OUT_OF_RESOURCES";
    public const string ArtifactInvalid = "ARTIFACT_INVALID";
    public const string LeaseLost = "LEASE_LOST";
    public const string Cancelled = "CANCELLED";
    public const string RetriesExhausted = "RETRIES_EXHAUSTED";
    public const string Quarantined = "QUARANTINED";
    public const string Internal = "INTERNAL";
}
