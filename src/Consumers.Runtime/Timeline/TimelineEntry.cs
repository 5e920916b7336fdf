namespace Consumers.Runtime.Timeline;

/// <summary>
/// An event to append in the same statement as a state change. <see cref="Attempt"/> overrides the row's
/// attempt count (the <c>requested</c> event belongs to attempt 0).
/// </summary>
public sealed record TimelineEntry(string Type, IReadOnlyDictionary<string, string> Data, int? Attempt = null)
{
    public static TimelineEntry Of(string type, params (string Key, string? Value)[] data) =>
        new(type, data.Where(d => d.Value is not null).ToDictionary(d => d.Key, d => d.Value!));
}
