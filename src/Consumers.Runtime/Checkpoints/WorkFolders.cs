using System.Globalization;
using System.Text.RegularExpressions;
using Consumers.Runtime.Artifacts;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Checkpoints;

/// <summary>
/// Per-job work folders for checkpoint parts: <c>{artifact root}/.work/{jobId}</c>. On the artifact filesystem
/// (not scratch, which belongs to one attempt), so a part survives the attempt and the worker that made it, and is
/// seen by any worker that shares the root. <c>.work</c> cannot be an artifact key: keys may not start with a dot.
/// Part files carry the writing attempt's number, so a late writer (a frozen, fenced attempt) never overwrites a
/// part another attempt recorded.
/// </summary>
public sealed partial class WorkFolders(IOptions<ArtifactOptions> options)
{
    public const string FolderName = ".work";

    public string Root => Path.Combine(Path.GetFullPath(options.Value.Root), FolderName);

    public string PathOf(Guid jobId) => Path.Combine(Root, jobId.ToString("N"));

    /// <summary>
    /// Moves <paramref name="file"/> into the job's work folder as part <paramref name="name"/> of <paramref name="attempt"/>,
    /// durably. <paramref name="writer"/> tells whose attempt: <c>a</c> the job's own, <c>s</c> a segment job's (its parts go
    /// into its parent's folder; each segment belongs to one segment job, so names stay unique).
    /// </summary>
    public async Task<CheckpointPart> KeepAsync(Guid jobId, int attempt, string file, string name, CancellationToken cancellationToken, char writer = 'a')
    {
        if (!PartName().IsMatch(name))
        {
            throw new ArgumentException($"a part name is letters, digits, '.', '-' and '_' (at most 100), not '{name}'", nameof(name));
        }

        var folder = PathOf(jobId);
        Directory.CreateDirectory(folder);
        var partName = string.Create(CultureInfo.InvariantCulture, $"{writer}{attempt}-{name}");
        var target = Path.Combine(folder, partName);
        // A rename when scratch shares the filesystem; a copy otherwise (a torn copy fails its checksum on resume).
        File.Move(file, target, overwrite: true);
        var (size, sha256) = await FileSystemArtifactStore.HashAsync(target, cancellationToken, flushToDisk: true);
        FlushDirectory(folder);
        return new CheckpointPart(partName, size, sha256);
    }

    /// <summary>The parts of <paramref name="recorded"/> that are on disk with their recorded size and checksum.</summary>
    public async Task<Dictionary<string, CheckpointPart>> VerifyAsync(Guid jobId, IEnumerable<CheckpointPart> recorded, CancellationToken cancellationToken)
    {
        var whole = new Dictionary<string, CheckpointPart>(StringComparer.Ordinal);
        foreach (var part in recorded)
        {
            var path = Path.Combine(PathOf(jobId), part.Name);
            if (!PartName().IsMatch(part.Name) || !File.Exists(path) || new FileInfo(path).Length != part.Size)
            {
                continue;
            }

            var (_, sha256) = await FileSystemArtifactStore.HashAsync(path, cancellationToken);
            if (sha256 == part.Sha256)
            {
                whole[part.Name] = part;
            }
        }

        return whole;
    }

    /// <summary>Deletes files of the job's folder that no checkpoint refers to (a fenced attempt's late parts, torn moves).</summary>
    public void RemoveAllBut(Guid jobId, IReadOnlySet<string> keep)
    {
        var folder = PathOf(jobId);
        if (!Directory.Exists(folder))
        {
            return;
        }

        foreach (var file in Directory.EnumerateFiles(folder))
        {
            if (!keep.Contains(Path.GetFileName(file)))
            {
                File.Delete(file);
            }
        }
    }

    public void Delete(Guid jobId)
    {
        var folder = PathOf(jobId);
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The job ids that have a work folder now.</summary>
    public IReadOnlyList<Guid> Jobs() =>
        Directory.Exists(Root)
            ? [.. Directory.EnumerateDirectories(Root).Select(Path.GetFileName).Select(n => Guid.TryParseExact(n, "N", out var id) ? id : Guid.Empty).Where(id => id != Guid.Empty)]
            : [];

    public static long SizeOf(string folder) =>
        Directory.Exists(folder) ? new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length) : 0;

    private static void FlushDirectory(string directory)
    {
        try
        {
            using var handle = File.OpenHandle(directory, FileMode.Open, FileAccess.Read);
            RandomAccess.FlushToDisk(handle);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The part is checksummed on resume; a lost name only costs redoing it.
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,100}$")]
    private static partial Regex PartName();
}
