using Consumers.Testing.Workers;

namespace Consumers.Testing.Faults;

/// <summary>
/// Keeps a number of worker processes running, as a supervisor (systemd, Kubernetes) would: a worker that dies
/// is replaced by a new process with a new id. Counts the deaths, so a test can say how many crashes a fault cost.
/// </summary>
public sealed class RestartingWorkers : IAsyncDisposable
{
    private readonly Func<string, Task<WorkerProcess>> start;
    private readonly List<WorkerProcess> running = [];
    private readonly List<string> died = [];
    private readonly CancellationTokenSource stop = new();
    private readonly string prefix;
    private Task? watch;
    private int started;

    private RestartingWorkers(Func<string, Task<WorkerProcess>> start, string prefix)
    {
        this.start = start;
        this.prefix = prefix;
    }

    /// <summary>Starts <paramref name="count"/> workers through <paramref name="start"/> (given the new worker's id) and watches them.</summary>
    public static async Task<RestartingWorkers> StartAsync(int count, string prefix, Func<string, Task<WorkerProcess>> start)
    {
        var workers = new RestartingWorkers(start, prefix);
        for (var i = 0; i < count; i++)
        {
            await workers.StartOneAsync();
        }

        workers.watch = Task.Run(workers.WatchAsync);
        return workers;
    }

    /// <summary>Ids of the workers that died, in order.</summary>
    public IReadOnlyList<string> Died
    {
        get
        {
            lock (died)
            {
                return [.. died];
            }
        }
    }

    /// <summary>Starts one more worker, watched like the others.</summary>
    public Task AddAsync() => StartOneAsync();

    private async Task StartOneAsync()
    {
        var worker = await start($"{prefix}-{Interlocked.Increment(ref started)}");
        lock (running)
        {
            running.Add(worker);
        }
    }

    private async Task WatchAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            List<WorkerProcess> dead;
            lock (running)
            {
                dead = running.Where(w => w.HasExited).ToList();
                running.RemoveAll(dead.Contains);
            }

            foreach (var worker in dead)
            {
                lock (died)
                {
                    died.Add(worker.WorkerId);
                }

                // The test environment disposes every process it started; this one is already gone.
                await StartOneAsync();
            }

            try
            {
                await Task.Delay(200, stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Stops watching; the processes themselves are left to whoever started them.</summary>
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        if (watch is not null)
        {
            await watch;
        }

        stop.Dispose();
    }
}
