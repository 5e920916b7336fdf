using System.Security.Cryptography;
using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Stages;

namespace Consumers.Runtime.Tests.Stages;

public sealed class ManifestStageTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("manifest-").FullName;

    [Fact]
    public async Task Writes_size_checksum_and_chunk_checksums_of_the_source_and_reports_progress()
    {
        var source = Path.Combine(folder, "clip.bin");
        var bytes = new byte[10240];
        new Random(7).NextBytes(bytes);
        await File.WriteAllBytesAsync(source, bytes);
        var reports = new List<double>();
        var context = new StageContext(Guid.NewGuid(), 1,
            new JobRequested { Stage = "manifest", Parameters = new Dictionary<string, string> { ["chunkBytes"] = "4096" } },
            source, folder, new SynchronousProgress(reports.Add));

        var output = await new ManifestStage().RunAsync(context, CancellationToken.None);

        using var manifest = JsonDocument.Parse(await File.ReadAllBytesAsync(output.FilePath));
        Assert.Equal(10240, manifest.RootElement.GetProperty("size").GetInt64());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), manifest.RootElement.GetProperty("sha256").GetString());
        var chunks = manifest.RootElement.GetProperty("chunks").EnumerateArray().Select(c => c.GetString()).ToList();
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes.AsSpan(8192))), chunks[2]);
        Assert.Equal([40.0, 80.0, 100.0], reports);
        await new ManifestStage().ValidateAsync(output.FilePath, CancellationToken.None);
    }

    [Fact]
    public async Task Validation_rejects_a_file_that_is_not_a_manifest()
    {
        var path = Path.Combine(folder, "junk.json");
        await File.WriteAllTextAsync(path, "<html>");

        var error = await Assert.ThrowsAsync<JobFailureException>(() => new ManifestStage().ValidateAsync(path, CancellationToken.None));

        Assert.Equal(ErrorCodes.ArtifactInvalid, error.Code);
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private sealed class SynchronousProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
