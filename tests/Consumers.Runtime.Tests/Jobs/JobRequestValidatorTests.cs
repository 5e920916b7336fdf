using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Stages;

namespace Consumers.Runtime.Tests.Jobs;

public sealed class JobRequestValidatorTests
{
    private static readonly StageRegistry Stages = new([new ManifestStage(), new SyntheticStage(Microsoft.Extensions.Options.Options.Create(new SyntheticOptions()), Microsoft.Extensions.Options.Options.Create(new WorkerOptions()))]);

    private static JobRequested Valid => new() { JobId = Guid.NewGuid(), Stage = "manifest", Source = "a.bin", OutputKey = "a.json" };

    public static TheoryData<string, JobRequested> Invalid => new()
    {
        { "stage", Valid with { Stage = "" } },
        { "stage", Valid with { Stage = "paint" } },
        { "stage", Valid with { Stage = new string('s', 65) } },
        { "outputKey", Valid with { OutputKey = " " } },
        { "outputKey", Valid with { OutputKey = new string('k', 1025) } },
        { "source", Valid with { Source = "" } },
        { "source", Valid with { Source = new string('p', 4097) } },
        { "clipDurationSeconds", Valid with { ClipDurationSeconds = -1 } },
        { "clipDurationSeconds", Valid with { ClipDurationSeconds = double.NaN } },
        { "maxAttempts", Valid with { MaxAttempts = 0 } },
        { "maxAttempts", Valid with { MaxAttempts = 101 } },
        { "priority", Valid with { Priority = -1 } },
        { "priority", Valid with { Priority = 10 } },
        { "priority", Valid with { Priority = int.MaxValue } },
        { "schemaVersion", Valid with { SchemaVersion = 2 } },
        { "parameters", Valid with { Parameters = Enumerable.Range(0, 65).ToDictionary(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture), _ => "v") } },
        { "parameters", Valid with { Parameters = new Dictionary<string, string> { ["k"] = new string('v', 1025) } } },
        { "source", Valid with { Source = "clips/a\0.mov" } },
        { "outputKey", Valid with { OutputKey = "out\0/a.json" } },
        { "stage", Valid with { Stage = "mani\0fest" } },
        { "parameters.height", Valid with { Parameters = new Dictionary<string, string> { ["height"] = "24\00" } } },
        { "parameters", Valid with { Parameters = new Dictionary<string, string> { ["hei\0ght"] = "240" } } },
        { "source", Valid with { Source = "clips/\ud800.mov" } },
        { "outputKey", Valid with { OutputKey = new string('k', 256) + ".json" } },
        { "outputKey", Valid with { OutputKey = "a/" + string.Concat(Enumerable.Repeat("é", 128)) } },
        { "outputKey", Valid with { OutputKey = ".staging/x.json" } },
        { "outputKey", Valid with { OutputKey = "clips/.quarantine/x.json" } },
        { "outputKey", Valid with { OutputKey = "a/.hidden" } },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Each_bad_field_is_an_invalid_request_that_names_the_field(string field, JobRequested request)
    {
        var error = Assert.Throws<JobFailureException>(() => JobRequestValidator.Validate(request, Stages));

        Assert.Equal(ErrorCodes.InvalidRequest, error.Code);
        Assert.Equal(field, error.Field);
        Assert.StartsWith(field, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_good_request_passes()
    {
        JobRequestValidator.Validate(Valid, Stages);
        JobRequestValidator.Validate(Valid with { Stage = "synthetic", Source = "" }, Stages);
        JobRequestValidator.Validate(Valid with { Priority = JobPriority.Lowest }, Stages);
        JobRequestValidator.Validate(Valid with { Priority = JobPriority.Highest }, Stages);
        JobRequestValidator.Validate(Valid with { OutputKey = "a/" + new string('k', 255) }, Stages);
        JobRequestValidator.Validate(Valid with { OutputKey = "clips/a.b/x.json", Source = "clips/😀.mov" }, Stages);
    }

    [Fact]
    public void Text_the_database_cannot_hold_is_found_before_any_other_check_and_says_where()
    {
        var error = JobRequestValidator.FindUnstorable(Valid with { Stage = "paint", Source = "a\0b" });

        Assert.NotNull(error);
        Assert.Equal("source", error.Field);
        Assert.Equal("source contains a NUL character (U+0000) at position 1", error.Message);
        Assert.Null(JobRequestValidator.FindUnstorable(Valid with { Parameters = new Dictionary<string, string> { ["k"] = "ü😀" } }));
    }

    [Fact]
    public void A_segment_longer_than_a_file_name_may_be_says_its_size()
    {
        var error = Assert.Throws<JobFailureException>(() => JobRequestValidator.Validate(Valid with { OutputKey = "a/" + new string('k', 300) }, Stages));

        Assert.Contains("300 bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("at most 255", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_stage_lists_the_stages_this_worker_runs()
    {
        var error = Assert.Throws<JobFailureException>(() => JobRequestValidator.Validate(Valid with { Stage = "paint" }, Stages));

        Assert.Contains("manifest, synthetic", error.Message, StringComparison.Ordinal);
    }
}
