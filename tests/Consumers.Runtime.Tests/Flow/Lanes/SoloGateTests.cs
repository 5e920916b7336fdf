using Consumers.Runtime.Flow.Lanes;

namespace Consumers.Runtime.Tests.Flow.Lanes;

public sealed class SoloGateTests
{
    [Fact]
    public async Task A_suspect_waits_for_the_running_jobs_and_holds_new_ones_at_the_door_until_it_is_done()
    {
        var gate = new SoloGate();
        Assert.True(await gate.EnterAsync(CancellationToken.None)); // a job already running
        Assert.True(await gate.EnterAsync(CancellationToken.None)); // the suspect's own delivery

        var alone = gate.TryRunAloneAsync(CancellationToken.None);
        var newcomer = gate.EnterAsync(CancellationToken.None);
        Assert.False(alone.IsCompleted);
        Assert.False(newcomer.IsCompleted);

        gate.Exit(); // the running job finishes
        Assert.True(await alone.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.False(newcomer.IsCompleted);
        Assert.Equal(1, gate.Running);

        gate.Release();
        Assert.True(await newcomer.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(2, gate.Running);
    }

    [Fact]
    public async Task A_second_suspect_is_turned_away_rather_than_made_to_wait()
    {
        var gate = new SoloGate();
        Assert.True(await gate.EnterAsync(CancellationToken.None));
        Assert.True(await gate.TryRunAloneAsync(CancellationToken.None));

        Assert.False(await gate.TryRunAloneAsync(CancellationToken.None));
        Assert.True(gate.Reserved);
    }

    [Fact]
    public async Task A_cancelled_suspect_gives_the_gate_back()
    {
        var gate = new SoloGate();
        Assert.True(await gate.EnterAsync(CancellationToken.None));
        Assert.True(await gate.EnterAsync(CancellationToken.None));
        using var cancel = new CancellationTokenSource();

        var alone = gate.TryRunAloneAsync(cancel.Token);
        await cancel.CancelAsync();

        Assert.False(await alone);
        Assert.False(gate.Reserved);
        Assert.True(await gate.EnterAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_delivery_waiting_at_the_door_can_be_cancelled()
    {
        var gate = new SoloGate();
        Assert.True(await gate.EnterAsync(CancellationToken.None));
        Assert.True(await gate.TryRunAloneAsync(CancellationToken.None));
        using var cancel = new CancellationTokenSource();

        var waiting = gate.EnterAsync(cancel.Token);
        await cancel.CancelAsync();

        Assert.False(await waiting);
        Assert.Equal(1, gate.Running);
    }
}
