using Consumers.Admin.Access;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Consumers.Admin.Api;

/// <summary>The overview, the operator audit, and who the caller is.</summary>
public static class OverviewEndpoints
{
    public const int MaxAudit = 500;

    public static void Map(RouteGroupBuilder api)
    {
        var read = api.MapGroup("").AddEndpointFilter(new AdminAccessFilter(AdminRole.Viewer)).ProducesProblem(StatusCodes.Status401Unauthorized).WithTags("Overview");
        read.MapGet("/overview", async (AdminQueries queries, CancellationToken cancellationToken) => TypedResults.Ok(await queries.OverviewAsync(cancellationToken)))
            .WithSummary("Jobs per status and stage (waiting and running now, finished in the last 24 h), throughput per minute, lanes, pauses, backpressure, outbox age, stuck and dead-letter counts");
        read.MapGet("/audit", AuditAsync).WithSummary("The operator audit, newest first; target narrows it to one job id, stage or queue");
        read.MapGet("/me", (HttpContext http) =>
        {
            var caller = AdminAccessFilter.Caller(http);
            return TypedResults.Ok(new CallerView(caller.Name, caller.Role));
        }).WithSummary("The caller's name and role (Viewer or Operator)");
    }

    private static async Task<Results<Ok<List<AuditEntry>>, ValidationProblem>> AuditAsync(
        AdminQueries queries, string? target, int? limit, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > MaxAudit)
        {
            return Problems.Field("limit", $"must be from 1 to {MaxAudit} (is {limit})");
        }

        return TypedResults.Ok(await queries.AuditAsync(string.IsNullOrEmpty(target) ? null : target, limit ?? 50, cancellationToken));
    }
}
