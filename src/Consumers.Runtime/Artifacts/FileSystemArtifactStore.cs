using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Artifacts;

/// <summary>
/// Artifacts as files under a root. A commit copies the output into <c>.staging/</c> on the same filesystem,
/// flushes it, then links it into place with a no-replace move (link + unlink, which fails if the target
/// exists), and flushes the directory: a reader sees no file or the whole file, and the first commit wins.
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
        var target = PathOf(key);
        if (File.Exists(target))
        {
            return null;
        }

        var staging = Path.Combine(Root, StagingFolder);
        Directory.CreateDirectory(staging);
        var staged = Path.Combine(staging, Guid.NewGuid().ToString("N"));
        try
        {
            await using (var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true))
            await using (var output = new FileStream(staged, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await input.CopyToAsync(output, cancellationToken);
                await output.FlushAsync(cancellationToken);
                output.Flush(flushToDisk: true);
            }

            var (size, sha256) = await HashAsync(staged, cancellationToken);
            var directory = Path.GetDirectoryName(target)!;
            Directory.CreateDirectory(directory);
            try
            {
                // overwrite: false is link(2) + unlink(2) on Linux: atomic, and refuses an existing target.
                File.Move(staged, target, overwrite: false);
            }
            catch (IOException) when (File.Exists(target))
            {
                return null;
            }

            FlushDirectory(directory);
            return new ArtifactRecord(key, size, sha256);
        }
        finally
        {
            File.Delete(staged);
        }
    }

    public Task<string> QuarantineAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        var quarantine = Path.Combine(Root, QuarantineFolder);
        Directory.CreateDirectory(quarantine);
        var aside = Path.Combine(quarantine, $"{DateTime.UtcNow:yyyyMMddTHHmmss}-{Guid.NewGuid():N}-{Path.GetFileName(path)}");
        File.Move(path, aside, overwrite: false);
        return Task.FromResult(aside);
    }

    internal static async Task<(long Size, string Sha256)> HashAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        var hash = await SHA256.HashDataAsync(stream, cancellationToken);
        return (stream.Length, Convert.ToHexStringLower(hash));
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
