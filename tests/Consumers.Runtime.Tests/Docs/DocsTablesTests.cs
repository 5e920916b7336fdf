using Consumers.Runtime.Tests.Deployment;

namespace Consumers.Runtime.Tests.Docs;

/// <summary>
/// Markdown tables render only as one block under a header and a separator row: a blank line inside a table turns
/// the rows after it into a paragraph of pipes (as once happened to the Flow table in configuration.md).
/// </summary>
public sealed class DocsTablesTests
{
    public static TheoryData<string> Documents()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(RepositoryFiles.PathOf("docs"), "*.md").Append(RepositoryFiles.PathOf("README.md")))
        {
            data.Add(Path.GetRelativePath(RepositoryFiles.Root, file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Every_table_row_belongs_to_a_table_with_a_header(string document)
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryFiles.Root, document));
        var inTable = false;
        var inCode = false;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inCode = !inCode;
            }

            if (inCode || !line.StartsWith('|'))
            {
                inTable = false;
                continue;
            }

            if (!inTable)
            {
                // A table starts with its header, then a separator such as | --- | --- |.
                var separator = i + 1 < lines.Length ? lines[i + 1].Trim() : "";
                Assert.True(separator.StartsWith('|') && separator.Trim('|', ' ', '-', ':').Length == 0 && separator.Contains("---", StringComparison.Ordinal),
                    $"{document}:{i + 1} is a table row with no header above it (a blank line splits its table?): {line}");
                inTable = true;
            }
        }
    }
}
