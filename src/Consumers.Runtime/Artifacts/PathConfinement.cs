using Consumers.Contracts;
using Consumers.Runtime.Failures;

namespace Consumers.Runtime.Artifacts;

/// <summary>
/// Resolves a relative key or a source path to a full path that stays inside a root after <c>..</c> and
/// symbolic links are resolved. Anything else is an <c>INVALID_REQUEST</c> naming the field.
/// </summary>
internal static class PathConfinement
{
    /// <summary>
    /// Longest segment (file or folder name) of a key, in UTF-8 bytes: the usual file-system limit (NAME_MAX).
    /// </summary>
    public const int MaxSegmentBytes = 255;

    /// <summary>Resolves <paramref name="key"/> (relative, forward slashes) under <paramref name="root"/>.</summary>
    public static string ResolveKey(string root, string key, string field)
    {
        CheckKeyShape(key, field);
        var fullRoot = Path.GetFullPath(root);
        var candidate = Path.GetFullPath(Path.Combine(fullRoot, key));
        EnsureInside(fullRoot, ResolveLinks(candidate), field);
        return candidate;
    }

    /// <summary>
    /// The checks of a key that need no file system: relative, forward slashes, no empty, <c>.</c> or <c>..</c>
    /// segment, no segment starting with <c>.</c> (those names are the store's own: <c>.staging</c>,
    /// <c>.quarantine</c> and any it adds later) and none longer than <see cref="MaxSegmentBytes"/>.
    /// </summary>
    public static void CheckKeyShape(string key, string field)
    {
        if (string.IsNullOrWhiteSpace(key))
        {
            throw Invalid(field, "is empty");
        }

        if (Path.IsPathRooted(key) || key.Contains('\\', StringComparison.Ordinal) || key.Contains('\0', StringComparison.Ordinal))
        {
            throw Invalid(field, "must be a relative path with forward slashes");
        }

        var segments = key.Split('/');
        if (segments.Any(segment => segment is ".." or "." or ""))
        {
            throw Invalid(field, "must not contain empty, '.' or '..' segments");
        }

        if (segments.FirstOrDefault(segment => segment.StartsWith('.')) is { } hidden)
        {
            throw Invalid(field, $"has a segment starting with '.' ('{Short(hidden)}'): such names are reserved for the artifact store's own folders");
        }

        if (segments.FirstOrDefault(segment => System.Text.Encoding.UTF8.GetByteCount(segment) > MaxSegmentBytes) is { } longSegment)
        {
            throw Invalid(field, $"has a segment of {System.Text.Encoding.UTF8.GetByteCount(longSegment)} bytes ('{Short(longSegment)}'); a file or folder name may have at most {MaxSegmentBytes} bytes (UTF-8)");
        }
    }

    /// <summary>Resolves a source (absolute path, <c>file://</c> URI, or relative to the first root) that must lie under one of <paramref name="roots"/>.</summary>
    public static string ResolveSource(IReadOnlyList<string> roots, string source, string field)
    {
        if (string.IsNullOrWhiteSpace(source))
        {
            throw Invalid(field, "is empty");
        }

        if (roots.Count == 0)
        {
            throw Invalid(field, "cannot be read: the worker has no media roots configured");
        }

        string path;
        if (source.Contains("://", StringComparison.Ordinal))
        {
            if (!Uri.TryCreate(source, UriKind.Absolute, out var uri) || !uri.IsFile)
            {
                throw Invalid(field, "uses a scheme other than file://");
            }

            path = uri.LocalPath;
        }
        else
        {
            path = Path.IsPathRooted(source) ? source : Path.Combine(roots[0], source);
        }

        var resolved = ResolveLinks(Path.GetFullPath(path));
        foreach (var root in roots)
        {
            var fullRoot = ResolveLinks(Path.GetFullPath(root));
            if (IsInside(fullRoot, resolved))
            {
                return resolved;
            }
        }

        throw Invalid(field, "is outside the allowed media roots");
    }

    /// <summary>Follows symbolic links in every existing component of <paramref name="path"/>.</summary>
    public static string ResolveLinks(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? "/";
        var current = root;
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, part);
            var info = new FileInfo(next);
            if (info.LinkTarget is not null)
            {
                var target = info.ResolveLinkTarget(returnFinalTarget: true);
                next = target is null ? next : Path.GetFullPath(target.FullName);
            }

            current = next;
        }

        return current;
    }

    private static void EnsureInside(string root, string candidate, string field)
    {
        if (!IsInside(ResolveLinks(root), candidate))
        {
            throw Invalid(field, "escapes its root");
        }
    }

    private static bool IsInside(string root, string candidate)
    {
        var prefix = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        return candidate.StartsWith(prefix, StringComparison.Ordinal);
    }

    // Never half a surrogate pair: the message ends up in the database.
    private static string Short(string value) =>
        value.Length <= 40 ? value : value[..(char.IsHighSurrogate(value[39]) ? 39 : 40)] + "...";

    private static JobFailureException Invalid(string field, string problem) =>
        new(ErrorCodes.InvalidRequest, $"{field} {problem}") { Field = field };
}
