using System.Runtime;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Leases;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Consumers.Worker.Hosting;

/// <summary>
/// Gives memory back when the worker has nothing to do. A burst of jobs grows the GC's budgets and keeps the freed
/// space committed; once no job has run for <see cref="WorkerOptions.IdleTrimAfter"/>, one compacting collection
/// returns it, so an idle worker's footprint is its live heap. It runs once per idle period, never during work.
/// </summary>
public sealed partial class IdleMemoryTrim(
    ActiveJobRegistry activeJobs, IOptions<WorkerOptions> options, TimeProvider time, ILogger<IdleMemoryTrim> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var idleAfter = options.Value.IdleTrimAfter;
        if (idleAfter <= TimeSpan.Zero)
        {
            return;
        }

        var idle = new IdlePeriod(idleAfter, time);
        idle.Observe(activeJobs.Registered, activeJobs.Count);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (idle.Observe(activeJobs.Registered, activeJobs.Count))
            {
                Trim();
            }
        }
    }

    private void Trim()
    {
        var before = Environment.WorkingSet;
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        LogTrimmed(before / (1024 * 1024), Environment.WorkingSet / (1024 * 1024));
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Idle: compacted the heap, resident memory {BeforeMiB} MiB -> {AfterMiB} MiB")]
    private partial void LogTrimmed(long beforeMiB, long afterMiB);
}
