using Consumers.Runtime.Flow;
using Consumers.Runtime.Jobs;
using Consumers.Runtime.Leases;
using Consumers.Runtime.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Consumers.Runtime.Tests.Leases;

/// <summary>The self-fencing clock: it counts from the last renewal sent, per job, whatever the beats did meanwhile.</summary>
public sealed class SelfFencingTests : IDisposable
{
    private readonly FakeTimeProvider time = new();
    private readonly LeaseOptions options = new();
    private readonly ActiveJobRegistry registry = new();
    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    // Never connected: these tests drive only the clock and the fence, never a beat.
    private readonly NpgsqlDataSource nowhere = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1");
    private readonly JobIntake intake = new(NullLogger<JobIntake>.Instance);

    [Fact]
    public void A_job_is_fenced_at_the_fraction_of_its_lease_after_its_acquire_was_sent()
    {
        var fencing = new SelfFencing(options, time);
        var job = Register(leaseSeconds: 10);

        time.Advance(TimeSpan.FromMilliseconds(7_999));
        Assert.Empty(fencing.Overdue(registry.Snapshot()));
        Assert.Equal(TimeSpan.FromMilliseconds(1), fencing.UntilNextFence(registry.Snapshot()));

        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal([job], fencing.Overdue(registry.Snapshot()));
        Assert.Null(fencing.UntilNextFence(registry.Snapshot()));
    }

    [Fact]
    public void A_successful_beat_moves_the_clock_to_when_it_was_sent_not_to_when_it_answered()
    {
        var fencing = new SelfFencing(options, time);
        var job = Register(leaseSeconds: 10);
        time.Advance(TimeSpan.FromSeconds(6));
        var sent = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(1.5)); // a slow answer

        job.Renewed(sent);

        Assert.Equal(TimeSpan.FromSeconds(1.5), fencing.SinceRenewed(job));
        Assert.Equal(TimeSpan.FromSeconds(6.5), fencing.UntilNextFence(registry.Snapshot()));
    }

    [Fact]
    public void An_older_renewal_never_moves_the_clock_back()
    {
        var job = Register(leaseSeconds: 10);
        var early = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(3));
        var late = time.GetTimestamp();

        job.Renewed(late);
        job.Renewed(early);

        Assert.Equal(late, job.RenewedAt);
    }

    [Fact]
    public void Each_job_has_its_own_fence_point_from_its_own_lease_and_start()
    {
        var fencing = new SelfFencing(options, time);
        var shortLease = Register(leaseSeconds: 10);
        time.Advance(TimeSpan.FromSeconds(5));
        var longLease = Register(leaseSeconds: 60);
        var lateStart = Register(leaseSeconds: 10);

        time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal([shortLease], fencing.Overdue(registry.Snapshot()));

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal([shortLease, lateStart], fencing.Overdue(registry.Snapshot()).OrderBy(j => j.RenewedAt).ToList());
        Assert.DoesNotContain(longLease, fencing.Overdue(registry.Snapshot()));
    }

    [Fact]
    public void The_beat_timeout_is_a_fraction_of_the_shortest_lease_it_renews()
    {
        var fencing = new SelfFencing(options, time);
        Assert.Equal(TimeSpan.FromSeconds(2.5), fencing.BeatTimeout([]));

        Register(leaseSeconds: 60);
        Register(leaseSeconds: 20);

        Assert.Equal(TimeSpan.FromSeconds(5), fencing.BeatTimeout(registry.Snapshot()));
    }

    [Fact]
    public void Fencing_stops_the_overdue_jobs_and_closes_the_intake_but_leaves_younger_ones_running()
    {
        var heartbeat = Heartbeat();
        var old = Register(leaseSeconds: 10);
        time.Advance(TimeSpan.FromSeconds(4));
        var young = Register(leaseSeconds: 10);

        time.Advance(TimeSpan.FromSeconds(3.9));
        heartbeat.FenceOverdue();
        Assert.False(heartbeat.IsFenced);
        Assert.True(intake.IsOpen);

        time.Advance(TimeSpan.FromSeconds(0.1));
        heartbeat.FenceOverdue();

        Assert.True(heartbeat.IsFenced);
        Assert.Equal(StopReason.LeaseLost, old.Reason);
        Assert.True(old.Stopping.IsCancellationRequested);
        Assert.Equal(StopReason.None, young.Reason);
        Assert.Equal([HeartbeatService.IntakeReason], intake.ClosedBy);

        time.Advance(TimeSpan.FromSeconds(4));
        heartbeat.FenceOverdue();
        Assert.Equal(StopReason.LeaseLost, young.Reason);
    }

    [Fact]
    public void Observe_only_mode_stops_nothing_and_keeps_the_intake_open()
    {
        options.Enforce = false;
        var heartbeat = Heartbeat();
        var job = Register(leaseSeconds: 10);

        time.Advance(TimeSpan.FromSeconds(30));
        heartbeat.FenceOverdue();

        Assert.Equal(StopReason.None, job.Reason);
        Assert.False(heartbeat.IsFenced);
        Assert.True(intake.IsOpen);
    }

    [Fact]
    public async Task A_failed_beat_does_not_move_the_clock()
    {
        var heartbeat = Heartbeat();
        var job = Register(leaseSeconds: 10);
        var acquired = job.RenewedAt;
        time.Advance(TimeSpan.FromSeconds(2));

        await heartbeat.BeatAsync(CancellationToken.None); // port 1: refused

        Assert.Equal(acquired, job.RenewedAt);
        Assert.Equal(StopReason.None, job.Reason);
    }

    private ActiveJob Register(int leaseSeconds) =>
        registry.Register(new JobLease(Guid.NewGuid(), "synthetic", 1, 1, 3, leaseSeconds, 0), time.GetTimestamp());

    private HeartbeatService Heartbeat() => new(
        registry,
        intake,
        new JobStore(nowhere, new Runtime.Flow.Lanes.JobQueueName(Contracts.ContractNames.JobQueue)),
        new ConsumersMetrics(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
        Options.Create(options),
        time,
        NullLogger<HeartbeatService>.Instance);

    public void Dispose()
    {
        intake.Dispose();
        nowhere.Dispose();
        services.Dispose();
    }
}
