using System.Text.Json;
using Consumers.Runtime.Jobs;

namespace Consumers.Worker.Cli;

/// <summary>A job as <c>--json</c> prints it: the row, with the stored request as nested JSON.</summary>
public sealed record JobView(
    Guid Id,
    string Stage,
    string Status,
    string Source,
    string OutputKey,
    int AttemptCount,
    int ChargedAttempts,
    int MaxAttempts,
    int LeaseExpiryCount,
    long LeaseToken,
    string? LeaseOwner,
    DateTimeOffset? LastHeartbeatAt,
    DateTimeOffset? NotBefore,
    int? ProgressPercent,
    string? LastErrorCode,
    string? LastErrorMessage,
    string? ArtifactKey,
    long? ArtifactSize,
    string? ArtifactSha256,
    long LastEventSeq,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? FinishedAt,
    JsonElement Request)
{
    public static JobView From(JobRecord job) => new(
        job.Id, job.Stage, job.Status, job.Source, job.OutputKey, job.AttemptCount, job.AttemptCount - job.UnchargedAttempts,
        job.MaxAttempts, job.LeaseExpiryCount, job.LeaseToken, job.LeaseOwner, job.LastHeartbeatAt, job.NotBefore, job.ProgressPercent,
        job.LastErrorCode, job.LastErrorMessage, job.ArtifactKey, job.ArtifactSize, job.ArtifactSha256, job.LastEventSeq,
        job.CreatedAt, job.UpdatedAt, job.FinishedAt, JsonDocument.Parse(job.Request).RootElement.Clone());
}
