using Consumers.Runtime.Control;

namespace Consumers.Runtime.Tests.Control;

public sealed class DeadLetterInspectTests
{
    [Theory]
    [InlineData("""{"jobId":"6b1f3c70-2f5c-4a51-9a43-9f6d1c1e2a10","stage":"probe"}""")]
    [InlineData("""{"messageId":"x","messageType":["urn:message:Consumers.Contracts:JobRequested"],"message":{"jobId":"6b1f3c70-2f5c-4a51-9a43-9f6d1c1e2a10","stage":"probe"}}""")]
    public void A_request_with_a_job_id_is_valid_plain_or_in_an_envelope(string body)
    {
        var (jobId, stage, problem) = DeadLetterQueues.Inspect(body);

        Assert.Null(problem);
        Assert.Equal(Guid.Parse("6b1f3c70-2f5c-4a51-9a43-9f6d1c1e2a10"), jobId);
        Assert.Equal("probe", stage);
    }

    [Theory]
    [InlineData("""{"stage":"probe"}""")]
    [InlineData("""{"jobId":"00000000-0000-0000-0000-000000000000"}""")]
    [InlineData("null")]
    [InlineData("[1]")]
    [InlineData("not json")]
    [InlineData("""{"jobId":"6b1f3c70-2f5c-4a51-9a43-9f6d1c1e2a10","stage":5}""")]
    public void A_body_that_would_fail_again_is_not_replayable(string body)
    {
        Assert.NotNull(DeadLetterQueues.Inspect(body).Problem);
    }
}
