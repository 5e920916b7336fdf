using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Artifacts;
using Consumers.Runtime.Checkpoints;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Scratch;
using Consumers.Runtime.Timeline;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Consumers.IntegrationTests.Scratch;

/// <summary>The janitor against the real jobs table: leftovers go, failure scratch stays within its budgets.</summary>
public sealed class ScratchJanitorTests : IAsyncLifetime
{
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task Removes_crash_leftovers_and_old_or_excess_failure_scratch_but_keeps_the_rest()
    {
        var succeeded = await JobAsync(fail: false);
        var failedRecent = await JobAsync(fail: true);
        var failedOld = await JobAsync(fail: true);
        var failedBig = await JobAsync(fail: true);
        var processing = await JobAsync(fail: null);
        var leftover = Folder(succeeded, 1, 100);
        var keep = Folder(failedRecent, 1, 100);
        var old = Folder(failedOld, 1, 100, age: TimeSpan.FromDays(4));
        var big = Folder(failedBig, 1, 5000, age: TimeSpan.FromHours(2));
        var live = Folder(processing, 1, 100);
        var orphan = Folder(Guid.NewGuid(), 1, 100);

        // A file a crash left in the artifact store's staging folder two hours ago, and one staged just now.
        var abandoned = await StageAsync("abandoned", TimeSpan.FromHours(2));
        var staging = await StageAsync("staging", null);

        var options = Options.Create(new ScratchOptions { Root = env.ScratchRoot, MaxKeptAge = TimeSpan.FromDays(3), MaxKeptBytes = 1000 });
        var janitor = Janitor(options, new WorkFolders(Options.Create(new ArtifactOptions { Root = env.ArtifactRoot })));

        var removed = await janitor.SweepAsync(CancellationToken.None);

        Assert.Equal(new[] { leftover, old, big, orphan, abandoned }.Order(), removed.Order());
        Assert.True(File.Exists(staging), "a file staged just now is an attempt's, not the janitor's");
        Assert.True(Directory.Exists(keep));
        Assert.True(Directory.Exists(live), "the running attempt of a processing job is not the janitor's");
        Assert.Equal(100, janitor.KeptBytes);
    }

    [Fact]
    public async Task Checkpoint_work_folders_and_rows_of_finished_or_deleted_jobs_go_and_those_of_jobs_that_can_still_run_stay()
    {
        var succeeded = await JobAsync(fail: false);
        var processing = await JobAsync(fail: null);
        var deleted = Guid.NewGuid();
        var folders = new WorkFolders(Options.Create(new ArtifactOptions { Root = env.ArtifactRoot }));
        foreach (var job in new[] { succeeded, processing, deleted })
        {
            Directory.CreateDirectory(folders.PathOf(job));
            File.WriteAllBytes(Path.Combine(folders.PathOf(job), "a1-seg-00000.mp4"), new byte[10]);
        }

        // A row left behind by a finished job (its attempt died before cleaning up), written while it was running.
        await using (var insert = env.DataSource.CreateCommand(
            $"INSERT INTO job_checkpoints (job_id, attempt, lease_token, state, parts, saves) VALUES ('{succeeded}', 1, 1, '{{}}', '[]', 1)"))
        {
            await insert.ExecuteNonQueryAsync();
        }

        var options = Options.Create(new ScratchOptions { Root = env.ScratchRoot });
        var janitor = Janitor(options, folders);

        var removed = await janitor.SweepAsync(CancellationToken.None);

        Assert.Equal(new[] { folders.PathOf(succeeded), folders.PathOf(deleted) }.Order(), removed.Order());
        Assert.True(Directory.Exists(folders.PathOf(processing)), "a job that can still run keeps its checkpoint parts");
        Assert.Equal(0, await env.CountAsync("SELECT count(*) FROM job_checkpoints"));
    }

    private ScratchJanitor Janitor(IOptions<ScratchOptions> options, WorkFolders folders) =>
        new(new ScratchSpace(options), new ActiveJobRegistry(), env.Store, folders, new CheckpointStore(env.DataSource), Artifacts(), options,
            TimeProvider.System, NullLogger<ScratchJanitor>.Instance);

    private FileSystemArtifactStore Artifacts() => new(Options.Create(new ArtifactOptions { Root = env.ArtifactRoot }));

    // Stages a file the way a commit does, one the stage wrote long ago (the age counts from the staging); its staging
    // time set back by age.
    private async Task<string> StageAsync(string name, TimeSpan? age)
    {
        var output = Path.Combine(env.ArtifactRoot, "scratch-" + name);
        await File.WriteAllTextAsync(output, "{}");
        File.SetLastWriteTimeUtc(output, DateTime.UtcNow - TimeSpan.FromHours(5));
        var staged = (await Artifacts().StageAsync(output, $"staged/{name}.json", CancellationToken.None))!;
        if (age is { } a)
        {
            File.SetLastWriteTimeUtc(staged.StagedPath, DateTime.UtcNow - a);
        }

        return staged.StagedPath;
    }

    private string Folder(Guid jobId, int attempt, int bytes, TimeSpan? age = null)
    {
        var folder = Path.Combine(env.ScratchRoot, jobId.ToString("N"), attempt.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "partial.bin"), new byte[bytes]);
        if (age is { } a)
        {
            Directory.SetLastWriteTimeUtc(folder, DateTime.UtcNow - a);
        }

        return folder;
    }

    /// <summary>A job in its first attempt; then succeeded (false), failed (true) or left processing (null).</summary>
    private async Task<Guid> JobAsync(bool? fail)
    {
        var request = new JobRequested { JobId = Guid.NewGuid(), Stage = "synthetic", OutputKey = Guid.NewGuid() + ".json" };
        var lease = (await env.Store.AcquireAsync(request, new AcquireSettings("w", 10, 3600, 1), CancellationToken.None)).Lease!;
        if (fail == true)
        {
            await env.Store.FailAsync(lease, ErrorCodes.CorruptMedia, "bad", [TimelineEntry.Of(TimelineEventTypes.Failed)], CancellationToken.None);
        }
        else if (fail == false)
        {
            await env.Store.SucceedAsync(lease, new Runtime.Artifacts.ArtifactRecord(request.OutputKey, 1, new string('0', 64)),
                [TimelineEntry.Of(TimelineEventTypes.Completed)], CancellationToken.None);
        }

        return request.JobId;
    }
}
