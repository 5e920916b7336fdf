using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Checkpoints;
using Consumers.Runtime.Leases;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Consumers.Runtime.Scratch;

/// <summary>
/// Keeps kept scratch within its budgets: folders of attempts that are not running here and whose job
/// is not processing anywhere are either leftovers of a crash or scratch kept after a failure. Leftovers of a
/// crash (the job went on, or finished, elsewhere) are removed; kept failure scratch is removed once older than
/// <see cref="ScratchOptions.MaxKeptAge"/>, and oldest first while the total is above
/// <see cref="ScratchOptions.MaxKeptBytes"/>. It also removes the checkpoint work folders (under the artifact root)
/// and rows of jobs that have finished or are gone (retention), which the attempt that finished could not remove, and
/// files a crash left in the artifact store's staging folder (<see cref="ScratchOptions.StagedLeftoverAge"/>).
/// </summary>
internal sealed partial class ScratchJanitor(
    ScratchSpace scratch,
    ActiveJobRegistry activeJobs,
    IAttemptStates jobs,
    WorkFolders workFolders,
    CheckpointStore checkpoints,
    IArtifactStore artifacts,
    IOptions<ScratchOptions> options,
    TimeProvider time,
    ILogger<ScratchJanitor> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.JanitorInterval, time);
        do
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is IOException or NpgsqlException or UnauthorizedAccessException)
            {
                LogFailed(ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One pass; returns the folders it removed (scratch and checkpoint work folders).</summary>
    public async Task<IReadOnlyList<string>> SweepAsync(CancellationToken cancellationToken)
    {
        var removed = new List<string>(await SweepWorkFoldersAsync(cancellationToken));
        removed.AddRange(await SweepScratchAsync(cancellationToken));
        foreach (var staged in artifacts.RemoveStagedOlderThan(options.Value.StagedLeftoverAge))
        {
            LogRemoved(staged);
            removed.Add(staged);
        }

        return removed;
    }

    /// <summary>Work folders of jobs that finished or no longer exist go, with the checkpoint rows of finished jobs.</summary>
    private async Task<IReadOnlyList<string>> SweepWorkFoldersAsync(CancellationToken cancellationToken)
    {
        await checkpoints.ClearAllFinishedAsync(cancellationToken);
        var jobIds = workFolders.Jobs();
        if (jobIds.Count == 0)
        {
            return [];
        }

        var unfinished = await checkpoints.UnfinishedAsync(jobIds, cancellationToken);
        var removed = new List<string>();
        foreach (var jobId in jobIds.Where(id => !unfinished.Contains(id)))
        {
            var folder = workFolders.PathOf(jobId);
            workFolders.Delete(jobId);
            removed.Add(folder);
            LogRemoved(folder);
        }

        return removed;
    }

    private async Task<IReadOnlyList<string>> SweepScratchAsync(CancellationToken cancellationToken)
    {
        var root = new DirectoryInfo(scratch.Root);
        if (!root.Exists)
        {
            return [];
        }

        var running = activeJobs.Snapshot().Select(j => (j.Lease.JobId, j.Lease.Attempt)).ToHashSet();
        var candidates = new List<(DirectoryInfo Folder, Guid JobId, int Attempt)>();
        foreach (var jobFolder in root.EnumerateDirectories())
        {
            if (!Guid.TryParseExact(jobFolder.Name, "N", out var jobId))
            {
                continue;
            }

            foreach (var attemptFolder in jobFolder.EnumerateDirectories())
            {
                if (int.TryParse(attemptFolder.Name, out var attempt) && !running.Contains((jobId, attempt)))
                {
                    candidates.Add((attemptFolder, jobId, attempt));
                }
            }
        }

        if (candidates.Count == 0)
        {
            return [];
        }

        // What the database says of those jobs: the attempt that failed keeps its scratch; anything else is a leftover.
        var failedAttempts = await jobs.AttemptStatesAsync([.. candidates.Select(c => c.JobId).Distinct()], cancellationToken);

        var removed = new List<string>();
        var kept = new List<(DirectoryInfo Folder, long Bytes)>();
        var now = time.GetUtcNow();
        foreach (var (folder, jobId, attempt) in candidates)
        {
            var known = failedAttempts.TryGetValue(jobId, out var row);
            var processingElsewhere = known && row.Status == "processing" && row.Attempt == attempt;
            if (processingElsewhere)
            {
                continue;
            }

            var keptFailure = known && row.Status is "failed" or "queued";
            if (!keptFailure || now - folder.LastWriteTimeUtc > options.Value.MaxKeptAge)
            {
                Remove(folder, removed);
            }
            else
            {
                kept.Add((folder, ScratchSpace.SizeOf(folder.FullName)));
            }
        }

        var total = kept.Sum(k => k.Bytes);
        foreach (var (folder, bytes) in kept.OrderBy(k => k.Folder.LastWriteTimeUtc))
        {
            if (total <= options.Value.MaxKeptBytes)
            {
                break;
            }

            Remove(folder, removed);
            total -= bytes;
        }

        KeptBytes = total;
        return removed;
    }

    /// <summary>Bytes of kept scratch after the last pass.</summary>
    public long KeptBytes { get; private set; }

    private void Remove(DirectoryInfo folder, List<string> removed)
    {
        ScratchSpace.Delete(folder.FullName);
        removed.Add(folder.FullName);
        LogRemoved(folder.FullName);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed scratch folder {Path}")]
    private partial void LogRemoved(string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scratch janitor pass failed: {Error}")]
    private partial void LogFailed(string error);
}
