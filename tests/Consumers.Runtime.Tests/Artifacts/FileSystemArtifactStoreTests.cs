using System.Security.Cryptography;
using Consumers.Runtime.Artifacts;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Tests.Artifacts;

public sealed class FileSystemArtifactStoreTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("artifacts-").FullName;
    private readonly string work = Directory.CreateTempSubdirectory("work-").FullName;
    private readonly FileSystemArtifactStore store;

    public FileSystemArtifactStoreTests()
    {
        store = new FileSystemArtifactStore(Options.Create(new ArtifactOptions { Root = root }));
    }

    [Fact]
    public async Task Commit_moves_the_file_into_place_and_records_size_and_checksum()
    {
        var file = Write("out.bin", 5000, seed: 1);

        var committed = await store.CommitAsync(file, "a/b/out.bin", CancellationToken.None);

        var bytes = await File.ReadAllBytesAsync(Path.Combine(root, "a", "b", "out.bin"));
        Assert.NotNull(committed);
        Assert.Equal(5000, committed.Size);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), committed.Sha256);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(root, ".staging")));
    }

    [Fact]
    public async Task On_the_artifact_filesystem_the_output_is_moved_not_copied()
    {
        var file = Write("big.bin", 1 << 20, seed: 5);
        var inode = Inode(file);

        var committed = await store.CommitAsync(file, "moved.bin", CancellationToken.None);

        Assert.NotNull(committed);
        Assert.False(File.Exists(file));
        Assert.Equal(inode, Inode(Path.Combine(root, "moved.bin")));
    }

    [Fact]
    public async Task From_another_filesystem_the_output_is_copied_whole_and_the_source_removed()
    {
        // /dev/shm is tmpfs and the artifact root is under the temp folder: two filesystems on the Linux machines
        // this runs on. Where they are one, there is no other filesystem to copy from.
        if (!Directory.Exists("/dev/shm") || Device("/dev/shm") == Device(root))
        {
            return;
        }

        var elsewhere = Directory.CreateDirectory(Path.Combine("/dev/shm", "scratch-" + Guid.NewGuid().ToString("N"))).FullName;
        try
        {
            var file = Path.Combine(elsewhere, "out.bin");
            var bytes = new byte[300_000];
            new Random(6).NextBytes(bytes);
            await File.WriteAllBytesAsync(file, bytes);

            var committed = await store.CommitAsync(file, "copied.bin", CancellationToken.None);

            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), committed!.Sha256);
            Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(root, "copied.bin")));
            Assert.False(File.Exists(file));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(root, ".staging")));
        }
        finally
        {
            Directory.Delete(elsewhere, recursive: true);
        }
    }

    [Fact]
    public async Task A_symbolic_link_is_refused_and_nothing_is_committed()
    {
        var outside = Write("secret.bin", 10, seed: 7);
        var link = Path.Combine(work, "out.bin");
        File.CreateSymbolicLink(link, outside);

        var error = await Assert.ThrowsAsync<Consumers.Runtime.Failures.JobFailureException>(
            () => store.CommitAsync(link, "linked.bin", CancellationToken.None));

        Assert.Equal(Consumers.Contracts.ErrorCodes.ArtifactInvalid, error.Code);
        Assert.False(File.Exists(Path.Combine(root, "linked.bin")));
        Assert.True(File.Exists(link));
    }

    [Fact]
    public async Task Commit_never_replaces_an_existing_artifact()
    {
        await store.CommitAsync(Write("first.bin", 100, seed: 1), "k.bin", CancellationToken.None);
        var before = new FileInfo(Path.Combine(root, "k.bin"));
        var inode = (before.LastWriteTimeUtc, before.Length);

        var second = await store.CommitAsync(Write("second.bin", 200, seed: 2), "k.bin", CancellationToken.None);

        Assert.Null(second);
        var after = new FileInfo(Path.Combine(root, "k.bin"));
        Assert.Equal(inode, (after.LastWriteTimeUtc, after.Length));
    }

    // A check for the target followed by rename(2) lets two racers both "win", the later replacing the earlier's file;
    // the race is narrow, so it is run many times.
    [Fact]
    public async Task Racing_commits_of_one_key_leave_one_whole_file()
    {
        for (var round = 0; round < 40; round++)
        {
            var key = $"race-{round}.bin";
            var files = Enumerable.Range(0, 8).Select(i => Write($"race{round}-{i}.bin", 64 * 1024, seed: (round * 8) + i)).ToList();
            var expected = files.ToDictionary(f => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f))), f => f);
            using var start = new Barrier(files.Count);

            var results = await Task.WhenAll(files.Select(f => Task.Run(() =>
            {
                start.SignalAndWait();
                return store.CommitAsync(f, key, CancellationToken.None);
            })));

            var winner = Assert.Single(results, r => r is not null);
            var onDisk = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(root, key))));
            Assert.Equal(winner!.Sha256, onDisk);
            Assert.Contains(onDisk, expected.Keys);
            // Every loser's output is back where its stage left it, and nothing is left in staging.
            Assert.Equal(files.Where(f => f != expected[onDisk]), files.Where(File.Exists));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(root, ".staging")));
        }
    }

    [Fact]
    public async Task Describe_returns_null_for_a_missing_key_and_the_checksum_for_an_existing_one()
    {
        Assert.Null(await store.DescribeAsync("nothing.bin", CancellationToken.None));
        await store.CommitAsync(Write("x.bin", 10, seed: 3), "x.bin", CancellationToken.None);

        var described = await store.DescribeAsync("x.bin", CancellationToken.None);

        Assert.Equal(10, described!.Size);
    }

    [Fact]
    public async Task Quarantine_moves_a_bad_artifact_aside()
    {
        await store.CommitAsync(Write("bad.bin", 10, seed: 4), "bad.bin", CancellationToken.None);

        var aside = await store.QuarantineAsync("bad.bin", CancellationToken.None);

        Assert.False(File.Exists(Path.Combine(root, "bad.bin")));
        Assert.True(File.Exists(aside));
        Assert.StartsWith(Path.Combine(root, ".quarantine"), aside, StringComparison.Ordinal);
    }

    private string Write(string name, int size, int seed)
    {
        var path = Path.Combine(work, name);
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string Inode(string path) => Stat("%i", path);

    private static string Device(string path) => Stat("%d", path);

    private static string Stat(string format, string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", format, path])
        {
            RedirectStandardOutput = true,
        })!;
        var output = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        Assert.Equal(0, stat.ExitCode);
        return output;
    }

    public void Dispose()
    {
        Directory.Delete(root, recursive: true);
        Directory.Delete(work, recursive: true);
    }
}
