using System.Globalization;

namespace Consumers.Bench.Infrastructure;

/// <summary>
/// Where the local stack is: the same variables and defaults as the integration tests, so
/// <c>eval "$(scripts/stack.sh env)"</c> points both at the same services.
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

    /// <summary>The repository root (results go to its <c>.bench/</c>), else the current folder.</summary>
    public static string RepositoryRoot
    {
        get
        {
            foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
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

            return Environment.CurrentDirectory;
        }
    }

    private static string Env(string name, string fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : fallback;
}
