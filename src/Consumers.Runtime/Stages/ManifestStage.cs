using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace Consumers.Runtime.Stages;

/// <summary>
/// Built-in, deterministic stage: reads the whole source and writes a JSON manifest of its size, its SHA-256
/// and the SHA-256 of each chunk (parameter <c>chunkBytes</c>, default 1 MiB, from 1 KiB to 64 MiB). Real I/O on a real file with no
/// external tools, so tests and the benchmark exercise the full path without ffmpeg.
/// </summary>
public sealed class ManifestStage : IStage
{
    public const string StageName = "manifest";
    private const int DefaultChunkBytes = 1 << 20;
    public const int MinChunkBytes = 1 << 10;
    public const int MaxChunkBytes = 64 << 20;

    public string Name => StageName;

    public async Task<StageOutput> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        // One chunk is one buffer in memory: bounded, so a request cannot make the worker allocate gigabytes.
        var chunkBytes = StageParameters.WholeNumber(context, "chunkBytes", DefaultChunkBytes, MinChunkBytes, MaxChunkBytes);

        await using var source = new FileStream(context.SourcePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        var length = source.Length;
        using var whole = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var chunks = new List<string>();
        var buffer = new byte[chunkBytes];
        long read = 0;
        while (true)
        {
            var filled = 0;
            while (filled < buffer.Length)
            {
                var n = await source.ReadAsync(buffer.AsMemory(filled), cancellationToken);
                if (n == 0)
                {
                    break;
                }

                filled += n;
            }

            if (filled == 0)
            {
                break;
            }

            whole.AppendData(buffer, 0, filled);
            chunks.Add(Convert.ToHexStringLower(SHA256.HashData(buffer.AsSpan(0, filled))));
            read += filled;
            context.Progress.Report(length == 0 ? 100 : 100.0 * read / length);
        }

        var manifest = new Manifest(Path.GetFileName(context.SourcePath), read, Convert.ToHexStringLower(whole.GetHashAndReset()), chunkBytes, chunks);
        var output = Path.Combine(context.ScratchDirectory, "manifest.json");
        await using (var file = File.Create(output))
        {
            await JsonSerializer.SerializeAsync(file, manifest, ContractJson.Options, cancellationToken);
        }

        return new StageOutput(output);
    }

    public async Task ValidateAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(path);
        try
        {
            var manifest = await JsonSerializer.DeserializeAsync<Manifest>(file, ContractJson.Options, cancellationToken);
            if (manifest is null || manifest.Sha256.Length != 64)
            {
                throw new Failures.JobFailureException(Contracts.ErrorCodes.ArtifactInvalid, "manifest has no checksum");
            }
        }
        catch (JsonException ex)
        {
            throw new Failures.JobFailureException(Contracts.ErrorCodes.ArtifactInvalid, "manifest is not valid JSON: " + ex.Message);
        }
    }

    private sealed record Manifest(string Name, long Size, string Sha256, int ChunkBytes, IReadOnlyList<string> Chunks);
}
