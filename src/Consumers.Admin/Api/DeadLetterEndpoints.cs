using Consumers.Admin.Access;
using Consumers.Runtime.Control;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Consumers.Admin.Api;

/// <summary>The job error queues: what is there and why, and sending valid messages back once.</summary>
public static class DeadLetterEndpoints
{
    public const int MaxLimit = 1000;

    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/dead-letters", ListAsync).AddEndpointFilter(new AdminAccessFilter(AdminRole.Viewer)).ProducesProblem(StatusCodes.Status401Unauthorized).WithTags("Dead letters")
            .WithSummary("Messages in the job error queues with their fault; nothing is removed");
        api.MapPost("/dead-letters/replay", ReplayAsync).AddEndpointFilter(new AdminAccessFilter(AdminRole.Operator))
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound).WithTags("Dead letters")
            .WithSummary("Send valid dead letters (one by messageId, or all) back to the queue they failed on; invalid ones stay");
    }

    private static async Task<Results<Ok<List<AdminDeadLetter>>, ValidationProblem>> ListAsync(
        RuntimeServices runtime, string? queue, int? limit, CancellationToken cancellationToken)
    {
        var queues = runtime.Get<DeadLetterQueues>();
        if (QueueProblem(queues, queue) is { } problem)
        {
            return problem;
        }

        if (limit is < 1 or > MaxLimit)
        {
            return Problems.Field("limit", $"must be from 1 to {MaxLimit} (is {limit})");
        }

        var letters = new List<AdminDeadLetter>();
        foreach (var name in queue is null ? queues.ErrorQueues() : [queue])
        {
            letters.AddRange((await queues.PeekAsync(name, limit ?? 100, cancellationToken)).Select(l => new AdminDeadLetter(
                l.Queue, l.MessageId, l.JobId, l.Stage, l.Reason, l.ExceptionType, l.FaultMessage, l.FaultedAt, l.Valid, l.Problem, l.Body)));
        }

        return TypedResults.Ok(letters);
    }

    private static async Task<Results<Ok<ActionResult>, ValidationProblem, ProblemHttpResult>> ReplayAsync(
        RuntimeServices runtime, HttpContext http, ReplayRequest body, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(body.MessageId) == !body.All)
        {
            return Problems.Field("messageId", "give exactly one of messageId or all: true");
        }

        var queues = runtime.Get<DeadLetterQueues>();
        if (QueueProblem(queues, body.Queue) is { } problem)
        {
            return problem;
        }

        var who = AdminAccessFilter.Caller(http).Name;
        var audit = runtime.Get<OperatorAudit>();
        var replayed = 0;
        foreach (var name in body.Queue is null ? queues.ErrorQueues() : [body.Queue])
        {
            var result = await queues.ReplayAsync(name, l => body.All || l.MessageId == body.MessageId, cancellationToken);
            foreach (var letter in result.Replayed)
            {
                await audit.RecordAsync("dead-letter-replay", letter.JobId?.ToString() ?? letter.MessageId ?? name, who, null, "replayed", cancellationToken);
            }

            replayed += result.Replayed.Count;
        }

        return body.MessageId is not null && replayed == 0
            ? Problems.NotFound($"no valid dead letter {body.MessageId} (an invalid one stays where it is; see its problem in the list)")
            : TypedResults.Ok(new ActionResult("replayed", Replayed: replayed));
    }

    private static ValidationProblem? QueueProblem(DeadLetterQueues queues, string? queue) =>
        queue is null || queues.ErrorQueues().Contains(queue)
            ? null
            : Problems.Field("queue", $"'{queue}' is not a job error queue; they are {string.Join(", ", queues.ErrorQueues())}");
}
