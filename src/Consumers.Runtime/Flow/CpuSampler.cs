namespace Consumers.Runtime.Flow;

/// <summary>Busy fraction of all CPUs between two calls, from <c>/proc/stat</c>; null on the first call or without /proc.</summary>
internal sealed class CpuSampler
{
    private (long Busy, long Total)? last;

    public double? Sample()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
            var idle = fields[3] + (fields.Length > 4 ? fields[4] : 0);
            var total = fields.Sum();
            var previous = last;
            last = (total - idle, total);
            return previous is { } p && total > p.Total ? (double)(total - idle - p.Busy) / (total - p.Total) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}
