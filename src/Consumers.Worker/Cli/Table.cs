using System.Text;

namespace Consumers.Worker.Cli;

/// <summary>Left-aligned text columns for people; tools use <c>--json</c>.</summary>
public sealed class Table(params string[] headers)
{
    private readonly List<string[]> rows = [];

    public void Add(params string?[] cells) => rows.Add([.. cells.Select(c => c ?? "")]);

    public override string ToString()
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var builder = new StringBuilder();
        Append(builder, headers, widths);
        foreach (var row in rows)
        {
            Append(builder, row, widths);
        }

        return builder.ToString();
    }

    private static void Append(StringBuilder builder, string[] cells, int[] widths)
    {
        for (var i = 0; i < cells.Length; i++)
        {
            builder.Append(i == cells.Length - 1 ? cells[i] : cells[i].PadRight(widths[i] + 2));
        }

        builder.AppendLine();
    }
}
