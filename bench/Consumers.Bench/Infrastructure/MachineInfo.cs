using System.Globalization;

namespace Consumers.Bench.Infrastructure;

/// <summary>What the figures were measured on, read from /proc.</summary>
public sealed record MachineInfo(int Cores, string CpuModel, long MemoryBytes, string Kernel, string LoadAverage)
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

        return new MachineInfo(Environment.ProcessorCount, model, MemTotalBytes(), Environment.OSVersion.VersionString, LoadAverageNow());
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
        string.Create(CultureInfo.InvariantCulture, $"{Cores} cores ({CpuModel}), {MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB RAM, {Kernel}, load {LoadAverage}");

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
