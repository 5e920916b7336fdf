using System.Globalization;

namespace Consumers.Bench.Infrastructure;

/// <summary>What the figures were measured on, read from /proc.</summary>
public sealed record MachineInfo(int Cores, string CpuModel, long MemoryBytes, string Kernel, string LoadAverage, string WorkFilesystem)
{
    public static MachineInfo Read()
    {
        var model = "unknown";
        try
        {
            model = File.ReadLines("/proc/cpuinfo")
                .Where(l => l.StartsWith("model name", StringComparison.Ordinal))
                .Select(l => l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim())
                .FirstOrDefault() ?? model;
        }
        catch (IOException)
        {
        }

        return new MachineInfo(Environment.ProcessorCount, model, MemTotalBytes(), Environment.OSVersion.VersionString, LoadAverageNow(),
            FilesystemOf(Path.GetTempPath()));
    }

    /// <summary>1, 5 and 15 minute load averages: how busy the shared machine was around a measurement.</summary>
    public static string LoadAverageNow()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    public string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"{Cores} cores ({CpuModel}), {MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB RAM, {Kernel}, load {LoadAverage}, scratch and artifacts on {WorkFilesystem}");

    /// <summary>
    /// The filesystem type and device under <paramref name="path"/> (the workers' scratch and artifacts live in the
    /// temp folder), and for ext4 whether it has a journal: without one, every file created costs more after many
    /// deletions, which moves the throughput figures (docs/performance.md).
    /// </summary>
    private static string FilesystemOf(string path)
    {
        try
        {
            var full = Path.GetFullPath(path);
            var mount = File.ReadLines("/proc/mounts")
                .Select(l => l.Split(' '))
                .Where(f => f.Length > 2 && (full + "/").StartsWith(f[1].TrimEnd('/') + "/", StringComparison.Ordinal))
                .MaxBy(f => f[1].Length);
            if (mount is null)
            {
                return "unknown";
            }

            var (device, type) = (mount[0], mount[2]);
            var journalTask = $"/sys/fs/ext4/{Path.GetFileName(device)}/journal_task";
            if (type == "ext4" && File.Exists(journalTask))
            {
                var journal = File.ReadAllText(journalTask).Trim();
                return $"ext4 ({device}, {(journal == "<none>" ? "no journal" : "journaled")})";
            }

            return $"{type} ({device})";
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    private static long MemTotalBytes()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            return long.Parse(line["MemTotal:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
