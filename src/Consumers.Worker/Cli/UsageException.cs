namespace Consumers.Worker.Cli;

/// <summary>A command line that parses but makes no sense; reported as one line with exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
