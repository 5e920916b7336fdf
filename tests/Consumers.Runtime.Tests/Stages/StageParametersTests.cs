using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Stages;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Tests.Stages;

/// <summary>Every numeric parameter has a range; a value outside it is INVALID_REQUEST naming the parameter and the range.</summary>
public sealed class StageParametersTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("parameters-").FullName;

    public static TheoryData<string, string, string, string> OutOfRange => new()
    {
        // stage, parameter, value, the range the message gives
        { "manifest", "chunkBytes", "2000000000", "from 1,024 to 67,108,864" },
        { "manifest", "chunkBytes", "0", "from 1,024 to 67,108,864" },
        { "manifest", "chunkBytes", "lots", "from 1,024 to 67,108,864" },
        { "synthetic", "durationMs", "-1", "from 0 to 86,400,000" },
        { "synthetic", "durationMs", "999999999", "from 0 to 86,400,000" },
        { "synthetic", "steps", "0", "from 1 to 1,000" },
        { "synthetic", "cpuMs", "3600001", "from 0 to 3,600,000" },
        { "synthetic", "failAttempts", "-2", "from 0 to 2,147,483,647" },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public async Task A_value_outside_its_range_names_the_parameter_and_the_range(string stage, string name, string value, string range)
    {
        var error = await Assert.ThrowsAsync<JobFailureException>(() => Run(stage, new WorkerOptions(), (name, value)));

        Assert.Equal(ErrorCodes.InvalidRequest, error.Code);
        Assert.Equal("parameters." + name, error.Field);
        Assert.StartsWith($"parameters.{name} must be a whole number {range}", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("500k", true)]
    [InlineData("2M", true)]
    [InlineData("100M", true)]
    [InlineData("800000", true)]
    [InlineData("101M", false)]
    [InlineData("999999M", false)]
    [InlineData("15k", false)]
    [InlineData("fast", false)]
    public void Bit_rates_are_bounded_too(string value, bool accepted)
    {
        var context = Context("transcode", ("videoBitrate", value));

        if (accepted)
        {
            Assert.Equal(value, StageParameters.Bitrate(context, "videoBitrate", "500k", 16_000, 100_000_000));
        }
        else
        {
            var error = Assert.Throws<JobFailureException>(() => StageParameters.Bitrate(context, "videoBitrate", "500k", 16_000, 100_000_000));
            Assert.Equal("parameters.videoBitrate", error.Field);
            Assert.Contains("from 16,000 to 100,000,000 bits per second", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_crash_parameter_is_refused_unless_the_worker_allows_it()
    {
        var error = await Assert.ThrowsAsync<JobFailureException>(() => Run("synthetic", new WorkerOptions(), ("crashProcess", "true")));

        Assert.Equal(ErrorCodes.InvalidRequest, error.Code);
        Assert.Equal("parameters.crashProcess", error.Field);
        // Without the parameter (or with false) nothing changes.
        await Run("synthetic", new WorkerOptions(), ("crashProcess", "false"));
    }

    private Task<StageOutput> Run(string stage, WorkerOptions options, params (string Key, string Value)[] parameters) =>
        stage == "manifest"
            ? new ManifestStage().RunAsync(Context(stage, parameters), CancellationToken.None)
            : new SyntheticStage(Options.Create(new SyntheticOptions()), Options.Create(options)).RunAsync(Context(stage, parameters), CancellationToken.None);

    private StageContext Context(string stage, params (string Key, string Value)[] parameters) =>
        new(Guid.NewGuid(), 1,
            new JobRequested { Stage = stage, OutputKey = "x.json", Parameters = parameters.ToDictionary(p => p.Key, p => p.Value) },
            Path.Combine(folder, "missing.bin"), folder, new Progress<double>());

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
