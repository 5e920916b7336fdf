using System.Collections;
using System.Reflection;
using Consumers.Runtime.Jobs;

namespace Consumers.Runtime.Tests.Docs;

/// <summary>docs/configuration.md must name every setting the code binds, so the docs cannot drift from the code.</summary>
public sealed class ConfigurationDocsTests
{
    public static TheoryData<string> Settings()
    {
        var data = new TheoryData<string>();
        var assemblies = new[] { typeof(JobStore).Assembly, typeof(Consumers.Media.MediaAssembly).Assembly, typeof(Consumers.Admin.AdminOptions).Assembly };
        foreach (var type in assemblies.SelectMany(a => a.GetTypes()))
        {
            if (type.GetField("Section", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } field)
            {
                foreach (var path in Paths((string)field.GetValue(null)!, type))
                {
                    data.Add(path);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void Every_setting_is_documented(string setting)
    {
        Assert.Contains($"`{setting}`", Documentation.Value, StringComparison.Ordinal);
    }

    private static readonly Lazy<string> Documentation = new(() => File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "configuration.md")));

    private static IEnumerable<string> Paths(string prefix, Type type)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var path = prefix + ":" + property.Name;
            var propertyType = property.PropertyType;
            var isLeaf = propertyType.IsValueType || propertyType == typeof(string) || typeof(IEnumerable).IsAssignableFrom(propertyType)
                         || Nullable.GetUnderlyingType(propertyType) is not null;
            if (isLeaf)
            {
                yield return path;
            }
            else
            {
                foreach (var nested in Paths(path, propertyType))
                {
                    yield return nested;
                }
            }
        }
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Consumers.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Consumers.sln not found");
    }
}
