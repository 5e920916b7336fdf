using Consumers.Contracts;
using Consumers.Runtime.Failures;

namespace Consumers.Runtime.Artifacts;

/// <summary>
/// Resolves a relative key or a source path to a full path that stays inside a root after <c>..</c> and
/// symbolic links are resolved. Anything else is an <c>INVALID_REQUEST</c> naming the field.
/// </summary>
public static class PathConfinement
{
    /// <summary>Resolves <paramref name="key"/> (relative, forward slashes) under <paramref name="root"/>.</summary>
    public static string ResolveKey(string root, string key, string field)
    {
        if (string.IsNullOrWhiteSpace(key))
        {
            throw Invalid(field, "is empty");
        }

        if (Path.IsPathRooted(key) || key.Contains('\\', StringComparison.Ordinal) || key.Contains('\0', StringComparison.Ordinal))
        {
            throw Invalid(field, "must be a relative path with forward slashes");
        }

        if (key.Split('/').Any(segment => segment is ".." or "." or ""))
        {
            throw Invalid(field, "must not contain empty, '.' or '..' segments");
        }

        var fullRoot = Path.GetFullPath(root);
        var candidate = Path.GetFullPath(Path.Combine(fullRoot, key));
        EnsureInside(fullRoot, ResolveLinks(candidate), field);
        return candidate;
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

    private static JobFailureException Invalid(string field, string problem) =>
        new(ErrorCodes.InvalidRequest, $"{field} {problem}") { Field = field };
}
