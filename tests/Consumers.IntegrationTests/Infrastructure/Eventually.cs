namespace Consumers.IntegrationTests.Infrastructure;

/// <summary>Polls a condition. The timeout only guards against a hang; tests never assert how fast something happened.</summary>
public static class Eventually
{
    public static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe)
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

            await Task.Delay(100);
        }
    }
}
