using System.Security.Cryptography;
using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Artifacts;

/// <summary>
/// Artifacts as files under a root. A commit moves the output into <c>.staging/</c> (a rename when scratch is on
/// the same filesystem, a copy otherwise), flushes it, then links it into place with a no-replace move (link +
/// unlink, which fails if the target exists), and flushes the directory: a reader sees no file or the whole
/// file, and the first commit wins.
/// </summary>
public sealed class FileSystemArtifactStore(IOptions<ArtifactOptions> options) : IArtifactStore
{
    private const string StagingFolder = ".staging";
    private const string QuarantineFolder = ".quarantine";

    private string Root => Path.GetFullPath(options.Value.Root);

    public string PathOf(string key) => PathConfinement.ResolveKey(Root, key, "outputKey");

    public async Task<ArtifactRecord?> DescribeAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        if (!File.Exists(path))
        {
            return null;
        }

        var (size, sha256) = await HashAsync(path, cancellationToken);
        return new ArtifactRecord(key, size, sha256);
    }

    public async Task<ArtifactRecord?> CommitAsync(string file, string key, CancellationToken cancellationToken)
    {
        if (await StageAsync(file, key, cancellationToken) is not { } staged)
        {
            return null;
        }

        if (TryPlace(staged))
        {
            return staged.Record;
        }

        Unstage(staged);
        return null;
    }

    public async Task<StagedArtifact?> StageAsync(string file, string key, CancellationToken cancellationToken)
    {
        var target = PathOf(key);
        if (File.Exists(target))
        {
            return null;
        }

        if (new FileInfo(file).LinkTarget is not null)
        {
            // Moved as it is, a link would become the artifact and could point anywhere, outside the root included.
            throw new JobFailureException(ErrorCodes.ArtifactInvalid, "the stage's output is a symbolic link, not a file");
        }

        var staging = Path.Combine(Root, StagingFolder);
        Directory.CreateDirectory(staging);
        var staged = Path.Combine(staging, Guid.NewGuid().ToString("N"));
        // On the artifact filesystem this is a rename: no bytes copied, no new file. From another filesystem File.Move
        // copies and deletes; staging is private, so a partial copy is never seen.
        File.Move(file, staged, overwrite: false);
        try
        {
            // A rename keeps the stage's time: the janitor ages staged files from here.
            File.SetLastWriteTimeUtc(staged, DateTime.UtcNow);
            var (size, sha256) = await HashAsync(staged, cancellationToken, flushToDisk: true);
            return new StagedArtifact(key, staged, file, size, sha256);
        }
        catch
        {
            TryMove(staged, file);
            throw;
        }
    }

    public bool TryPlace(StagedArtifact staged)
    {
        var target = PathOf(staged.Key);
        var directory = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(directory);
        if (!NoReplaceRename.TryMove(staged.StagedPath, target))
        {
            return false;
        }

        FlushDirectory(directory);
        return true;
    }

    public void Unstage(StagedArtifact staged)
    {
        if (File.Exists(staged.StagedPath) && !File.Exists(staged.From))
        {
            // Back where the stage left it, for a retry or for inspection of kept scratch.
            TryMove(staged.StagedPath, staged.From);
        }

        File.Delete(staged.StagedPath);
    }

    public IReadOnlyList<string> RemoveStagedOlderThan(TimeSpan age)
    {
        var staging = new DirectoryInfo(Path.Combine(Root, StagingFolder));
        if (!staging.Exists)
        {
            return [];
        }

        var stagedBefore = DateTime.UtcNow - age;
        var removed = new List<string>();
        foreach (var file in staging.EnumerateFiles().Where(f => f.LastWriteTimeUtc < stagedBefore))
        {
            file.Delete();
            removed.Add(file.FullName);
        }

        return removed;
    }

    public Task<string> QuarantineAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        var quarantine = Path.Combine(Root, QuarantineFolder);
        Directory.CreateDirectory(quarantine);
        var aside = Path.Combine(quarantine, $"{DateTime.UtcNow:yyyyMMddTHHmmss}-{Guid.NewGuid():N}-{NameForAside(Path.GetFileName(path))}");
        File.Move(path, aside, overwrite: false);
        return Task.FromResult(aside);
    }

    // The prefix takes 49 bytes; cut the name so the whole stays within a file name's 255 bytes.
    private static string NameForAside(string name)
    {
        while (System.Text.Encoding.UTF8.GetByteCount(name) > 200)
        {
            name = name[..^(char.IsLowSurrogate(name[^1]) ? 2 : 1)];
        }

        return name;
    }

    /// <param name="flushToDisk">Also make the data durable, in the same open (a commit does, before the link).</param>
    internal static async Task<(long Size, string Sha256)> HashAsync(string path, CancellationToken cancellationToken, bool flushToDisk = false)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        if (flushToDisk)
        {
            RandomAccess.FlushToDisk(stream.SafeFileHandle);
        }

        var hash = await SHA256.HashDataAsync(stream, cancellationToken);
        return (stream.Length, Convert.ToHexStringLower(hash));
    }

    private static void TryMove(string from, string to)
    {
        try
        {
            File.Move(from, to, overwrite: false);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void FlushDirectory(string directory)
    {
        // fsync of the directory makes the new name durable; opening a directory for flush works on Linux.
        try
        {
            using var handle = File.OpenHandle(directory, FileMode.Open, FileAccess.Read);
            RandomAccess.FlushToDisk(handle);
        }
        catch (UnauthorizedAccessException)
        {
        }
        catch (IOException)
        {
        }
    }
}
