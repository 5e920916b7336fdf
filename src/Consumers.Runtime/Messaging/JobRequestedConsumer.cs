using Consumers.Contracts;
using Consumers.Runtime.Flow;
using Consumers.Runtime.Flow.Lanes;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Persistence;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Messaging;

/// <summary>
/// Holds the delivery for the whole attempt and returns (acknowledges) once the outcome is committed, so a
/// worker that dies mid-job leaves the message to be delivered again. A job that arrived on a queue other than
/// its lane's is sent on to that lane first; a job runs only once it holds a slot of its lane and of the worker.
/// A delivery that cannot be acquired because PostgreSQL is unavailable is handed back to its lane's queue (same
/// MessageId) and acknowledged: an outage never moves a valid request to the error queue. So is one whose acquire
/// PostgreSQL did not answer within <see cref="DatabaseOptions.AcquireTimeout"/> (a silent path), at once.
/// </summary>
public sealed partial class JobRequestedConsumer(
    JobRunner runner, JobLanes lanes, JobIntake intake, DatabaseMonitor database, Control.StagePauses pauses, Control.ParkingLot parking,
    IOptions<RabbitMqOptions> rabbitOptions, IOptions<DatabaseOptions> databaseOptions, ILogger<JobRequestedConsumer> logger)
    : IConsumer<JobRequested>
{
    public async Task Consume(ConsumeContext<JobRequested> context)
    {
        var request = context.Message;
        if (request.JobId == Guid.Empty)
        {
            throw new InvalidJobMessageException($"{ErrorCodes.InvalidRequest}: jobId is missing or empty, so the message cannot be tied to a job");
        }

        var lane = lanes.For(request.Stage);
        if (JobRequestedJsonConverter.ProblemOf(request) is { } malformed)
        {
            if (!database.IsAvailable)
            {
                // Failing it is a database write too: it waits for PostgreSQL on its queue like any other job.
                LogHandedBack(request.JobId, "PostgreSQL is unavailable");
                await SendToLaneAsync(context, lane);
                return;
            }

            // Read from a body with a field of the wrong type: fail it here, a lane would only get the part that fitted.
            await RunOrHandBackAsync(context, lane, malformed);
            return;
        }

        if (JobLane.QueueOf(context.ReceiveContext.InputAddress) != lane.Queue)
        {
            LogForwarded(request.JobId, lane.Name);
            await SendToLaneAsync(context, lane);
            return;
        }

        if (await ParkedAsync(context))
        {
            return;
        }

        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, intake.Closing);
        using var slot = await lanes.EnterAsync(lane, waiting.Token);
        if (slot is null)
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            // The intake closed while this delivery waited for a slot: put it back for whoever takes work next.
            await SendToLaneAsync(context, lane);
            return;
        }

        if (!database.IsAvailable)
        {
            // Prefetched before the intake closed for the database: acquiring would only fail.
            LogHandedBack(request.JobId, "PostgreSQL is unavailable");
            await SendToLaneAsync(context, lane);
            return;
        }

        // Looked at again: the stage may have been paused while this delivery waited for its slot.
        if (await ParkedAsync(context))
        {
            return;
        }

        await RunOrHandBackAsync(context, lane, requestProblem: null);
    }

    private async Task RunOrHandBackAsync(ConsumeContext<JobRequested> context, JobLane lane, Failures.JobFailureException? requestProblem)
    {
        try
        {
            await runner.RunAsync(context.Message, context.CancellationToken, requestProblem);
        }
        catch (AcquireTimedOutException ex) when (!context.CancellationToken.IsCancellationRequested)
        {
            // A silent path: close the intake now rather than after two probe timeouts, and give the delivery back at
            // once, for a worker that can reach PostgreSQL. Nothing was charged: no attempt started here.
            database.ReportUnanswered("an acquire within " + databaseOptions.Value.AcquireTimeout.TotalSeconds.ToString("F1", System.Globalization.CultureInfo.InvariantCulture) + "s");
            LogHandedBack(context.Message.JobId, ex.Message);
            await SendToLaneAsync(context, lane);
        }
        catch (Exception ex) when (DatabaseFailures.IsUnavailable(ex) && !context.CancellationToken.IsCancellationRequested)
        {
            // Only acquiring can fail this way (an acquired attempt settles its own writes). Wait for the verdict
            // first, so a worker cut off from PostgreSQL has closed its intake before the delivery goes back; when the
            // monitor has given it already, there is nothing to wait for.
            if (database.IsAvailable)
            {
                await database.ConfirmAsync(context.CancellationToken);
            }

            LogHandedBack(context.Message.JobId, ex.Message);
            await SendToLaneAsync(context, lane);
        }
    }

    // A paused stage's delivery waits in its parking queue (see Control.ParkingLot), so it holds no slot of a shared lane.
    private async Task<bool> ParkedAsync(ConsumeContext<JobRequested> context)
    {
        if (!pauses.IsPaused(context.Message.Stage))
        {
            return false;
        }

        await context.SendToJobQueueAsync(rabbitOptions.Value, parking.QueueOf(context.Message.Stage), context.Message, typeof(JobRequested),
            context.MessageId, context.CancellationToken);
        LogParked(context.Message.JobId, context.Message.Stage);
        return true;
    }

    // Acknowledged only after the broker confirmed the copy; a duplicate from a crash in between is skipped on acquire.
    private Task SendToLaneAsync(ConsumeContext<JobRequested> context, JobLane lane) =>
        context.SendToJobQueueAsync(rabbitOptions.Value, lane.Queue, context.Message, typeof(JobRequested), context.MessageId, context.CancellationToken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} handed back to its queue, not acquired: {Reason}")]
    private partial void LogHandedBack(Guid jobId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} parked: stage {Stage} is paused")]
    private partial void LogParked(Guid jobId, string stage);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} sent on to its lane {Lane}")]
    private partial void LogForwarded(Guid jobId, string lane);
}
