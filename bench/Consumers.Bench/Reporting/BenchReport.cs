using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using Consumers.Bench.Infrastructure;

namespace Consumers.Bench.Reporting;

/// <summary>Everything one run measured, with the machine and settings that qualify it.</summary>
public sealed class BenchReport
{
    public required MachineInfo Machine { get; init; }
    public DateTimeOffset StartedAt { get; init; } = DateTimeOffset.UtcNow;
    public double DurationSeconds { get; set; }
    public Dictionary<string, string> Settings { get; init; } = [];
    public List<SectionResult> Sections { get; } = [];

    public string ToTable()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Machine.Describe()}");
        var settings = string.Join(", ", Settings.Select(s => $"{s.Key}={s.Value}"));
        text.AppendLine(CultureInfo.InvariantCulture, $"Run: {StartedAt:yyyy-MM-dd HH:mm:ss}Z, {DurationSeconds:F0} s; {settings}");
        foreach (var section in Sections)
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"== {section.Name} (runs: {section.Runs}; load before {section.LoadBefore}, after {section.LoadAfter})");
            if (section.Settings.Count > 0)
            {
                text.AppendLine("   settings: " + string.Join(", ", section.Settings.Select(s => $"{s.Key}={s.Value}")));
            }

            var table = new TextTable("figure", "value", "unit", "target", "met", "note");
            foreach (var figure in section.Figures)
            {
                table.Add(figure.Name, figure.FormattedValue, figure.Unit, figure.Target ?? "", figure.Met switch
                {
                    true => "yes",
                    false => "NO",
                    null => "",
                }, figure.Note ?? "");
            }

            text.Append(table.Render("   "));
            foreach (var note in section.Notes)
            {
                text.AppendLine("   note: " + note);
            }
        }

        return text.ToString();
    }
}

public sealed class SectionResult(string name)
{
    public string Name { get; } = name;
    public int Runs { get; set; } = 1;
    public string LoadBefore { get; set; } = MachineInfo.LoadAverageNow();
    public string LoadAfter { get; set; } = "";
    public Dictionary<string, string> Settings { get; } = [];
    public List<Figure> Figures { get; } = [];
    public List<string> Notes { get; } = [];

    public Figure Add(string name, double? value, string unit, string? note = null)
    {
        var figure = new Figure(name, value, unit) { Note = note };
        Figures.Add(figure);
        return figure;
    }
}

/// <summary>One measured number; <see cref="Value"/> is null when it could not be measured (the note says why).</summary>
public sealed class Figure(string name, double? value, string unit)
{
    public string Name { get; } = name;

    public double? Value { get; } = value;

    public string Unit { get; } = unit;
    public string? Target { get; private set; }
    public bool? Met { get; private set; }
    public string? Note { get; set; }

    [JsonIgnore]
    public string FormattedValue => Value switch
    {
        null => "n/a",
        { } v when Math.Abs(v) >= 100 => v.ToString("F0", CultureInfo.InvariantCulture),
        { } v when Math.Abs(v) >= 10 => v.ToString("F1", CultureInfo.InvariantCulture),
        { } v => v.ToString("F2", CultureInfo.InvariantCulture),
    };

    /// <summary>States the target and whether the value met it (not met when there is no value).</summary>
    public Figure WithTarget(string target, Func<double, bool> met)
    {
        Target = target;
        Met = Value is { } v && met(v);
        return this;
    }
}

/// <summary>Left-aligned text columns.</summary>
public sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> rows = [];

    public void Add(params string[] cells) => rows.Add(cells);

    public string Render(string indent)
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var text = new StringBuilder();
        Append(text, indent, headers, widths);
        foreach (var row in rows)
        {
            Append(text, indent, row, widths);
        }

        return text.ToString();
    }

    private static void Append(StringBuilder text, string indent, string[] cells, int[] widths)
    {
        text.Append(indent);
        for (var i = 0; i < cells.Length; i++)
        {
            text.Append(i == cells.Length - 1 ? cells[i] : cells[i].PadRight(widths[i] + 2));
        }

        text.AppendLine();
    }
}

/// <summary>A section failed after measuring part of what it reports; <see cref="Partial"/> keeps those figures.</summary>
public sealed class SectionFailedException(SectionResult partial, string message) : Exception(message)
{
    public SectionResult Partial { get; } = partial;
}
