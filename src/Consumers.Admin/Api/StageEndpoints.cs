using Consumers.Admin.Access;
using Consumers.Runtime.Control;
using Consumers.Runtime.Stages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Consumers.Admin.Api;

/// <summary>Lanes, slots and pauses, and pausing and resuming a stage on every worker.</summary>
public static class StageEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        var read = api.MapGroup("").AddEndpointFilter(new AdminAccessFilter(AdminRole.Viewer)).ProducesProblem(StatusCodes.Status401Unauthorized).WithTags("Stages");
        read.MapGet("/lanes", async (AdminQueries queries, CancellationToken cancellationToken) => TypedResults.Ok(await queries.LanesAsync(cancellationToken)))
            .WithSummary("Lanes with their slots per worker and running jobs, workers with running jobs, pauses, and backpressure queue depths");
        read.MapGet("/pauses", async (RuntimeServices runtime, CancellationToken cancellationToken) =>
                TypedResults.Ok(await runtime.Get<StagePauseStore>().ListAsync(cancellationToken)))
            .WithSummary("The paused stages, who paused them and why");

        var act = api.MapGroup("").AddEndpointFilter(new AdminAccessFilter(AdminRole.Operator))
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden).WithTags("Stages");
        act.MapPost("/stages/{stage}/pause", PauseAsync).WithSummary("Stop new starts of a stage on every worker within 2 s; running jobs finish");
        act.MapPost("/stages/{stage}/resume", ResumeAsync).WithSummary("Let every worker start jobs of a paused stage again, the held ones first");
    }

    private static async Task<Results<Ok<ActionResult>, ValidationProblem>> PauseAsync(
        RuntimeServices runtime, HttpContext http, string stage, [FromBody(EmptyBodyBehavior = Microsoft.AspNetCore.Mvc.ModelBinding.EmptyBodyBehavior.Allow)] ActionRequest? body,
        CancellationToken cancellationToken)
    {
        // Pausing a name no worker knows would hold nothing and hide a typo.
        var names = runtime.Get<StageRegistry>().Names;
        if (!names.Contains(stage))
        {
            return Problems.Field("stage", $"unknown stage '{stage}'; stages: {string.Join(", ", names.Order(StringComparer.Ordinal))}");
        }

        var who = AdminAccessFilter.Caller(http).Name;
        var paused = await runtime.Get<StagePauseStore>().PauseAsync(stage, who, body?.Reason, cancellationToken);
        var outcome = paused ? "paused" : "already_paused";
        await runtime.Get<OperatorAudit>().RecordAsync("pause", stage, who, body?.Reason, outcome, cancellationToken);
        return TypedResults.Ok(new ActionResult(outcome));
    }

    private static async Task<Results<Ok<ActionResult>, ValidationProblem>> ResumeAsync(
        RuntimeServices runtime, HttpContext http, string stage, CancellationToken cancellationToken)
    {
        var names = runtime.Get<StageRegistry>().Names;
        if (!names.Contains(stage))
        {
            return Problems.Field("stage", $"unknown stage '{stage}'; stages: {string.Join(", ", names.Order(StringComparer.Ordinal))}");
        }

        var who = AdminAccessFilter.Caller(http).Name;
        var resumed = await runtime.Get<StagePauseStore>().ResumeAsync(stage, cancellationToken);
        var outcome = resumed ? "resumed" : "not_paused";
        await runtime.Get<OperatorAudit>().RecordAsync("resume", stage, who, null, outcome, cancellationToken);
        return TypedResults.Ok(new ActionResult(outcome));
    }
}
