using Consumers.Runtime.Leases;
using Consumers.Runtime.Persistence;
using Microsoft.Extensions.Logging;

namespace Consumers.Runtime.Checkpoints;

/// <summary>Gives an attempt its job's checkpoint, and removes the checkpoint (row and work folder) once the job finished.</summary>
public sealed partial class CheckpointCleanup(CheckpointStore store, WorkFolders folders, ILogger<CheckpointCleanup> logger)
{
    /// <param name="segmentOf">The fanned-out job whose checkpoint a segment job writes into, or null.</param>
    public StageCheckpoint For(ActiveJob job, Guid? segmentOf = null) => new(job, store, folders, logger, segmentOf);

    /// <summary>
    /// Removes a finished job's checkpoint: its row (only read when an attempt may have written one) and its work folder.
    /// A failure here leaves them to the scratch janitor, which removes those of finished jobs.
    /// </summary>
    public async Task ClearAsync(Guid jobId, bool mayHaveRow)
    {
        try
        {
            if (mayHaveRow)
            {
                await store.ClearFinishedAsync(jobId, CancellationToken.None);
            }

            folders.Delete(jobId);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException || DatabaseFailures.IsUnavailable(ex))
        {
            LogCleanupFailed(jobId, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: its checkpoint could not be removed now ({Error}); the scratch janitor removes it later")]
    private partial void LogCleanupFailed(Guid jobId, string error);
}
