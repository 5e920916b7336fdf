using System.Text.Json;
using Consumers.Contracts;
using Consumers.Runtime.Messaging;

namespace Consumers.Runtime.Tests.Messaging;

public sealed class JobRequestedJsonConverterTests
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { Converters = { new JobRequestedJsonConverter() } };
    private static readonly JsonSerializerOptions WithoutConverter = new(JsonSerializerDefaults.Web);

    [Fact]
    public void A_request_that_fits_is_read_as_usual_and_carries_no_problem()
    {
        var id = Guid.NewGuid();
        var request = JsonSerializer.Deserialize<JobRequested>(
            $$"""{"JOBID":"{{id}}","stage":"transcode","source":"a.mov","outputKey":"a.mp4","parameters":{"height":"240"},"maxAttempts":2,"clipDurationSeconds":1.5}""",
            Options)!;

        Assert.Equal(id, request.JobId);
        Assert.Equal("240", request.Parameters!["height"]);
        Assert.Equal(2, request.MaxAttempts);
        Assert.Equal(JobPriority.Default, request.Priority);
        Assert.Null(JobRequestedJsonConverter.ProblemOf(request));
    }

    [Fact]
    public void A_plain_priority_is_read_and_written_back_so_every_re_send_carries_it()
    {
        var id = Guid.NewGuid();
        var request = JsonSerializer.Deserialize<JobRequested>($$"""{"jobId":"{{id}}","stage":"manifest","outputKey":"a.json","Priority":9}""", Options)!;

        Assert.Equal(9, request.Priority);
        Assert.Null(JobRequestedJsonConverter.ProblemOf(request));
        // The row keeps the request as written here; the sweep and requeue send that JSON again.
        Assert.Contains("\"priority\":9", JsonSerializer.Serialize(request, Runtime.ContractJson.Options), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("schemaVersion", "\"1\"")]
    [InlineData("source", "true")]
    [InlineData("outputKey", "{}")]
    [InlineData("maxAttempts", "2.5")]
    [InlineData("priority", "\"high\"")]
    [InlineData("priority", "null")]
    [InlineData("priority", "9.5")]
    [InlineData("parameters", "[\"height=240\"]")]
    public void A_usable_job_id_with_a_field_of_the_wrong_type_is_kept_with_the_field_named(string field, string json)
    {
        var id = Guid.NewGuid();
        var body = $$"""{"jobId":"{{id}}","stage":"manifest","source":"a.bin","outputKey":"a.json","{{field}}":{{json}}}""";

        var request = JsonSerializer.Deserialize<JobRequested>(body, Options)!;

        Assert.Equal(id, request.JobId);
        Assert.Equal("manifest", request.Stage);
        var problem = JobRequestedJsonConverter.ProblemOf(request);
        Assert.NotNull(problem);
        Assert.Equal(ErrorCodes.InvalidRequest, problem.Code);
        Assert.Equal(field, problem.Field);
    }

    [Theory]
    [InlineData("""{"jobId":42,"stage":"manifest"}""", "jobId must be a UUID string")]
    [InlineData("""{"jobId":"not-a-uuid","stage":5}""", "jobId must be a UUID string")]
    [InlineData("""[{"jobId":"6a1c3a8e-4f54-4a51-9a25-2a8c2f0a4b11"}]""", "the body is JSON array")]
    public void A_body_with_no_usable_job_id_fails_to_read_with_a_reason(string body, string reason)
    {
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<JobRequested>(body, Options));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Writing_is_unchanged_by_the_converter()
    {
        var request = new JobRequested { JobId = Guid.NewGuid(), Stage = "probe", Source = "a", OutputKey = "b" };

        Assert.Equal(JsonSerializer.Serialize(request, WithoutConverter), JsonSerializer.Serialize(request, Options));
    }
}
