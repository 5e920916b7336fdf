using Consumers.Runtime.Persistence;

namespace Consumers.Runtime.Tests.Persistence;

public sealed class SnakeCaseNamingTests
{
    [Theory]
    [InlineData("Id", "id")]
    [InlineData("LastHeartbeatAt", "last_heartbeat_at")]
    [InlineData("ArtifactSha256", "artifact_sha256")]
    [InlineData("JobId", "job_id")]
    [InlineData("HTTPStatus", "http_status")]
    public void Converts_property_names_to_column_names(string property, string column)
    {
        Assert.Equal(column, SnakeCaseNaming.ToSnakeCase(property));
    }
}
