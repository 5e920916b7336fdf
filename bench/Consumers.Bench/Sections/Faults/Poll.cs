using System.Diagnostics;

namespace Consumers.Bench.Sections.Faults;

/// <summary>Waiting for a condition of the database or the broker, as the fault runs do between steps.</summary>
internal static class Poll
{
    /// <summary>Checks <paramref name="condition"/> every 200 ms until it holds (true) or <paramref name="bound"/> passes (false).
    /// A check that throws counts as not yet: during a fault the bench's own queries may fail too.</summary>
    public static async Task<bool> UntilAsync(Func<Task<bool>> condition, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < bound)
        {
            try
            {
                if (await condition())
                {
                    return true;
                }
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or HttpRequestException or TimeoutException or TaskCanceledException)
            {
            }

            await Task.Delay(200);
        }

        return false;
    }
}
