using System.Globalization;

namespace Consumers.Testing.Stack;

/// <summary>
/// Where the local stack is. <c>scripts/stack.sh env</c> prints these variables; the defaults are the
/// stack's own ports, so a plain <c>scripts/stack.sh up</c> needs no variables at all.
/// </summary>
public static class StackSettings
{
    public static string AdminConnectionString =>
        Env("CONSUMERS_DB_ADMIN", "Host=127.0.0.1;Port=54329;Database=postgres;Username=consumers;Password=consumers");

    public static string RabbitHost => Env("CONSUMERS_RABBIT_HOST", "127.0.0.1");

    public static ushort RabbitPort => ushort.Parse(Env("CONSUMERS_RABBIT_PORT", "56729"), CultureInfo.InvariantCulture);

    public static string RabbitUser => Env("CONSUMERS_RABBIT_USER", "consumers");

    public static string RabbitPassword => Env("CONSUMERS_RABBIT_PASS", "consumers");

    public static Uri ManagementUri => new(Env("CONSUMERS_RABBIT_MGMT", "http://127.0.0.1:15729"));

    /// <summary>The repository root (scripts, docs, the <c>.bench</c> folder).</summary>
    public static string RepositoryRoot =>
        FindRepositoryRoot() ?? throw new InvalidOperationException("cannot find Consumers.sln above " + AppContext.BaseDirectory);

    /// <summary>The checkout this build came from, else the one of the current folder; null outside a checkout.</summary>
    public static string? FindRepositoryRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            var directory = new DirectoryInfo(start);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Consumers.sln")))
            {
                directory = directory.Parent;
            }

            if (directory is not null)
            {
                return directory.FullName;
            }
        }

        return null;
    }

    private static string Env(string name, string fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : fallback;
}
