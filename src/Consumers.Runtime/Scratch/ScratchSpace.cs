using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Scratch;

/// <summary>One folder per attempt (<c>{root}/{jobId}/{attempt}</c>): deleted on success, kept on failure with its size reported.</summary>
public sealed class ScratchSpace(IOptions<ScratchOptions> options)
{
    public string Root => Path.GetFullPath(options.Value.Root);

    public bool KeepOnFailure => options.Value.KeepOnFailure;

    public string Create(Guid jobId, int attempt)
    {
        var path = Path.Combine(Root, jobId.ToString("N"), attempt.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (Directory.Exists(path))
        {
            // Left by an earlier process that died with the same attempt number; nothing in it can be trusted.
            Directory.Delete(path, recursive: true);
        }

        Directory.CreateDirectory(path);
        return path;
    }

    public static void Delete(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }

        var parent = Path.GetDirectoryName(path);
        if (parent is not null && Directory.Exists(parent) && !Directory.EnumerateFileSystemEntries(parent).Any())
        {
            Directory.Delete(parent);
        }
    }

    public static long SizeOf(string path) =>
        Directory.Exists(path)
            ? new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length)
            : 0;
}
