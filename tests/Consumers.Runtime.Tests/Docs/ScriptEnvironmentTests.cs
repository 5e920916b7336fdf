using System.Text.RegularExpressions;
using Consumers.Runtime.Tests.Deployment;

namespace Consumers.Runtime.Tests.Docs;

/// <summary>The scripts read the stack's settings from <c>stack.sh env</c>: everything they use must be in it.</summary>
public sealed partial class ScriptEnvironmentTests
{
    [Theory]
    [InlineData("demo.sh")]
    public void Every_stack_variable_a_script_reads_is_exported_by_stack_env(string script)
    {
        var (exitCode, exported) = RepositoryFiles.Run("bash", RepositoryFiles.Root, "scripts/stack.sh", "env");
        Assert.True(exitCode == 0, exported);
        var names = Export().Matches(exported).Select(m => m.Groups[1].Value).ToHashSet();

        var used = Variable().Matches(RepositoryFiles.Read("scripts", script)).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.NotEmpty(used);
        Assert.All(used, name => Assert.True(names.Contains(name), $"scripts/{script} reads ${name}, which `stack.sh env` does not export"));
    }

    [GeneratedRegex(@"^export (CONSUMERS_[A-Z_]+)=", RegexOptions.Multiline)]
    private static partial Regex Export();

    [GeneratedRegex(@"\$\{?(CONSUMERS_[A-Z_]+)")]
    private static partial Regex Variable();
}
