using System.Globalization;

namespace Consumers.Bench.Infrastructure;

/// <summary>
/// CPU time of processes from /proc/&lt;pid&gt;/stat (user + system), to see where a job's CPU goes on a machine
/// where the worker, PostgreSQL and RabbitMQ share the cores.
/// </summary>
public static class ProcessCpu
{
    /// <summary>Clock ticks per second of /proc (USER_HZ; 100 on Linux).</summary>
    private const double TicksPerSecond = 100;

    public static TimeSpan? Of(int pid)
    {
        var fields = Fields(pid);
        return fields is null
            ? null
            : TimeSpan.FromSeconds((long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond);
    }

    /// <summary>
    /// CPU of the children a process has waited for (cutime + cstime): ffmpeg and ffprobe runs that ended, which
    /// <see cref="Of"/> leaves out.
    /// </summary>
    public static TimeSpan? WaitedChildrenOf(int pid)
    {
        var fields = Fields(pid);
        return fields is null
            ? null
            : TimeSpan.FromSeconds((long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture)) / TicksPerSecond);
    }

    public static int? ParentOf(int pid) => Fields(pid) is { } fields ? int.Parse(fields[1], CultureInfo.InvariantCulture) : null;

    /// <summary>A process and its direct children (PostgreSQL's postmaster and its backends), summed.</summary>
    public static TimeSpan TreeOf(int rootPid)
    {
        var total = Of(rootPid) ?? TimeSpan.Zero;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && ParentOf(pid) == rootPid)
            {
                total += Of(pid) ?? TimeSpan.Zero;
            }
        }

        return total;
    }

    /// <summary>The fields after the command name: [0] state, [1] ppid, ... [11] utime, [12] stime, [13] cutime, [14] cstime.</summary>
    private static string[]? Fields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
