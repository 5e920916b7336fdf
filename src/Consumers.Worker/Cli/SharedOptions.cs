using System.CommandLine;

namespace Consumers.Worker.Cli;

/// <summary>Options every verb understands.</summary>
public static class SharedOptions
{
    public static Option<string[]> Set { get; } = new("--set")
    {
        Description = "Override a setting, e.g. --set Consumers:Flow:ConcurrentJobs=4 (repeatable)",
        Recursive = true,
        AllowMultipleArgumentsPerToken = false,
        DefaultValueFactory = _ => [],
    };

    public static Option<bool> Json { get; } = new("--json") { Description = "Print JSON for tools instead of a table" };
}
