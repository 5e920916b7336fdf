using Consumers.Runtime.Flow.Lanes;

namespace Consumers.Runtime.Tests.Flow.Lanes;

public sealed class SlotLimiterTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Holds_no_more_than_its_capacity_and_serves_waiters_in_order()
    {
        var limiter = new SlotLimiter(2);
        Assert.True(await limiter.EnterAsync(CancellationToken.None));
        Assert.True(await EnterNowAsync(limiter));
        Assert.False(await EnterNowAsync(limiter));

        var first = limiter.EnterAsync(CancellationToken.None);
        var second = limiter.EnterAsync(CancellationToken.None);
        Assert.False(first.IsCompleted);

        limiter.Exit();
        Assert.True(await first.WaitAsync(Patience));
        Assert.False(second.IsCompleted);
        Assert.Equal(2, limiter.InUse);

        limiter.Exit();
        Assert.True(await second.WaitAsync(Patience));
    }

    [Fact]
    public async Task A_cancelled_wait_returns_false_and_holds_nothing()
    {
        var limiter = new SlotLimiter(1);
        Assert.True(await EnterNowAsync(limiter));
        using var cancel = new CancellationTokenSource();
        var waiting = limiter.EnterAsync(cancel.Token);

        await cancel.CancelAsync();

        Assert.False(await waiting.WaitAsync(Patience));
        limiter.Exit();
        Assert.Equal(0, limiter.InUse);
        Assert.True(await EnterNowAsync(limiter));
    }

    [Fact]
    public async Task Raising_the_capacity_lets_waiters_in_and_lowering_it_lets_holders_finish()
    {
        var limiter = new SlotLimiter(1);
        Assert.True(await EnterNowAsync(limiter));
        var waiting = limiter.EnterAsync(CancellationToken.None);

        limiter.SetCapacity(3);
        Assert.True(await waiting.WaitAsync(Patience));
        Assert.True(await EnterNowAsync(limiter));
        Assert.Equal(3, limiter.InUse);

        limiter.SetCapacity(1);
        Assert.Equal(3, limiter.InUse);
        limiter.Exit();
        limiter.Exit();
        Assert.False(await EnterNowAsync(limiter));
        limiter.Exit();
        Assert.True(await EnterNowAsync(limiter));
    }

    [Fact]
    public async Task Peak_reports_the_most_held_at_once_since_the_last_look()
    {
        var limiter = new SlotLimiter(4);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await limiter.EnterAsync(CancellationToken.None));
        }

        limiter.Exit();
        limiter.Exit();
        Assert.Equal(3, limiter.TakePeak());
        Assert.Equal(1, limiter.TakePeak());
    }

    /// <summary>Takes a slot that is free now; otherwise gives the wait up at once, holding nothing.</summary>
    private static async Task<bool> EnterNowAsync(SlotLimiter limiter)
    {
        using var giveUp = new CancellationTokenSource();
        var entering = limiter.EnterAsync(giveUp.Token);
        if (!entering.IsCompleted)
        {
            await giveUp.CancelAsync();
        }

        return await entering.WaitAsync(Patience);
    }
}
