namespace Consumers.IntegrationTests.Infrastructure;

/// <summary>Polls a condition. The timeout only guards against a hang; tests never assert how fast something happened.</summary>
public static class Eventually
{
    /// <param name="poll">How often to look (100 ms by default); fault tests that must act at a moment poll faster.</param>
    public static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe, TimeSpan? poll = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition())
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"gave up after {timeout.TotalSeconds:F0}s: {describe()}");
            }

            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(100));
        }
    }
}
