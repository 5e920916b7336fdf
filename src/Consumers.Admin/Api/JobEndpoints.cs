using Consumers.Admin.Access;
using Consumers.Contracts;
using Consumers.Runtime.Control;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Pipelines;
using Consumers.Runtime.Recovery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Consumers.Admin.Api;

/// <summary>Jobs: list and filter, one job with its timeline, stuck jobs, and the job actions (cancel, requeue).</summary>
public static class JobEndpoints
{
    public const int MaxPage = 200;
    private const int MinimumFragment = 4;

    public static void Map(RouteGroupBuilder api)
    {
        var read = api.MapGroup("").AddEndpointFilter(new AdminAccessFilter(AdminRole.Viewer)).ProducesProblem(StatusCodes.Status401Unauthorized).WithTags("Jobs");
        read.MapGet("/jobs", ListAsync).WithSummary("Jobs, newest first: filter by status and stage, search by id (whole, or its first or last hex digits), page with offset and limit");
        read.MapGet("/jobs/{id}", ShowAsync).ProducesProblem(StatusCodes.Status404NotFound).WithSummary("One job and its timeline; the id may be a unique start or end of it");
        read.MapGet("/stuck", StuckAsync).WithSummary("Processing jobs without a fresh heartbeat or past their deadline, and queued jobs waiting longer than queuedMinutes");

        var act = api.MapGroup("").AddEndpointFilter(new AdminAccessFilter(AdminRole.Operator))
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden).WithTags("Jobs");
        act.MapPost("/jobs/{id}/cancel", CancelAsync).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Cancel a job: a queued one at once (200), a running one is stopped by its worker within 2 s (202); a pipeline id cancels the pipeline as a whole (202)");
        act.MapPost("/jobs/{id}/requeue", RequeueAsync).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Give a failed (or stuck queued) job fresh attempts; reason is required");
    }

    private static async Task<Results<Ok<JobPage>, ValidationProblem>> ListAsync(
        AdminQueries queries, string? status, string? stage, string? search, int? offset, int? limit, CancellationToken cancellationToken)
    {
        if (status is not null && !JobStatuses.All.Contains(status))
        {
            return Problems.Field("status", $"must be one of {string.Join(", ", JobStatuses.All)} (is '{status}')");
        }

        if (limit is < 1 or > MaxPage)
        {
            return Problems.Field("limit", $"must be from 1 to {MaxPage} (is {limit})");
        }

        if (offset is < 0)
        {
            return Problems.Field("offset", $"must not be negative (is {offset})");
        }

        if (search is not null && FragmentProblem(search) is { } problem)
        {
            return Problems.Field("search", problem);
        }

        return TypedResults.Ok(await queries.JobsAsync(status, string.IsNullOrEmpty(stage) ? null : stage, string.IsNullOrEmpty(search) ? null : search,
            offset ?? 0, limit ?? 50, cancellationToken));
    }

    private static async Task<Results<Ok<JobWithTimeline>, ValidationProblem, ProblemHttpResult>> ShowAsync(
        AdminQueries queries, string id, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out _) && FragmentProblem(id) is { } problem)
        {
            return Problems.Field("id", problem);
        }

        var matches = await queries.ResolveAsync(id, 6, cancellationToken);
        if (matches.Count > 1)
        {
            return Problems.Field("id", $"'{id}' matches more than one job ({string.Join(", ", matches.Take(5))}); give more digits");
        }

        return matches.Count == 1 && await queries.JobAsync(matches[0], cancellationToken) is { } job
            ? TypedResults.Ok(job)
            : Problems.NotFound($"no job {id}");
    }

    private static async Task<Results<Ok<List<AdminStuckJob>>, ValidationProblem>> StuckAsync(
        AdminQueries queries, double? queuedMinutes, CancellationToken cancellationToken)
    {
        if (queuedMinutes is { } minutes && !(minutes > 0))
        {
            return Problems.Field("queuedMinutes", $"must be more than 0 (is {minutes})");
        }

        var limit = queuedMinutes is { } given ? TimeSpan.FromMinutes(given) : AdminQueries.QueuedTooLong;
        return TypedResults.Ok((await queries.StuckAsync(limit, cancellationToken)).Select(s => new AdminStuckJob(JobView.From(s.Job), s.Why)).ToList());
    }

    private static async Task<Results<Ok<ActionResult>, Accepted<ActionResult>, ValidationProblem, ProblemHttpResult>> CancelAsync(
        RuntimeServices runtime, HttpContext http, string id, [FromBody(EmptyBodyBehavior = Microsoft.AspNetCore.Mvc.ModelBinding.EmptyBodyBehavior.Allow)] ActionRequest? body,
        CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var jobId))
        {
            return Problems.Field("id", $"'{id}' is not a job id (a GUID)");
        }

        // JobCancellation stores the request, tells the worker and writes the audit, as the CLI's cancel does.
        var who = AdminAccessFilter.Caller(http).Name;
        var outcome = await runtime.Get<JobCancellation>().CancelAsync(jobId, body?.Reason, who, cancellationToken);
        if (outcome.Kind == CancelOutcomeKind.Missing)
        {
            // Not a job: a pipeline is cancelled as a whole, as `consumers cancel` and a CancelJob message do.
            return await runtime.Get<PipelineCancellation>().CancelAsync(jobId, body?.Reason, who, cancellationToken) switch
            {
                PipelineCancelResult.Missing => Problems.NotFound($"no job or pipeline {jobId}"),
                PipelineCancelResult.Finished => Problems.Conflict($"pipeline {jobId} already finished; nothing to cancel"),
                _ => TypedResults.Accepted($"/api/jobs/{jobId}", new ActionResult("pipeline_requested", "running")),
            };
        }

        return outcome.Kind switch
        {
            CancelOutcomeKind.Finished when outcome.Status != JobStatuses.Cancelled =>
                Problems.Conflict($"job {jobId} already finished as {outcome.Status}; nothing to cancel"),
            CancelOutcomeKind.Finished or CancelOutcomeKind.Cancelled => TypedResults.Ok(new ActionResult("cancelled", JobStatuses.Cancelled)),
            CancelOutcomeKind.AlreadyRequested => TypedResults.Accepted($"/api/jobs/{jobId}", new ActionResult("already_requested", JobStatuses.Processing)),
            _ => TypedResults.Accepted($"/api/jobs/{jobId}", new ActionResult("requested", JobStatuses.Processing)),
        };
    }

    private static async Task<Results<Ok<ActionResult>, ValidationProblem, ProblemHttpResult>> RequeueAsync(
        RuntimeServices runtime, HttpContext http, string id, [FromBody(EmptyBodyBehavior = Microsoft.AspNetCore.Mvc.ModelBinding.EmptyBodyBehavior.Allow)] ActionRequest? body,
        CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var jobId))
        {
            return Problems.Field("id", $"'{id}' is not a job id (a GUID)");
        }

        if (string.IsNullOrWhiteSpace(body?.Reason))
        {
            return Problems.Field("reason", "is required: it goes into the job's timeline (why run it again?)");
        }

        var who = AdminAccessFilter.Caller(http).Name;
        var refused = await runtime.Get<RecoveryStore>().RequeueByOperatorAsync(jobId, body.Reason, who, cancellationToken);
        await runtime.Get<OperatorAudit>().RecordAsync("requeue", jobId.ToString(), who, body.Reason, refused is null ? "requeued" : "refused_" + refused,
            cancellationToken);
        return refused switch
        {
            null => TypedResults.Ok(new ActionResult("requeued", JobStatuses.Queued)),
            "missing" => Problems.NotFound($"no job {jobId}"),
            _ => Problems.Conflict($"job {jobId} is {refused}; only failed or queued jobs can be requeued"),
        };
    }

    private static string? FragmentProblem(string text)
    {
        if (Guid.TryParse(text, out _))
        {
            return null;
        }

        var digits = text.Replace("-", "", StringComparison.Ordinal);
        return digits.Length >= MinimumFragment && digits.All(char.IsAsciiHexDigit)
            ? null
            : $"give a job id, or at least {MinimumFragment} of its first or last hex digits (is '{text}')";
    }
}
