using System.Globalization;
using System.Text;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// Text PostgreSQL cannot hold: a NUL character (refused by <c>text</c> and by <c>jsonb</c> as <c>\u0000</c>) and
/// a lone UTF-16 surrogate (no UTF-8 form). A request carrying either is refused before any SQL sees it.
/// </summary>
internal static class StorableText
{
    /// <summary>What is wrong with <paramref name="value"/>, or null when the database can store it.</summary>
    public static string? Problem(string? value)
    {
        if (value is null)
        {
            return null;
        }

        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                return $"contains a NUL character (U+0000) at position {i.ToString(CultureInfo.InvariantCulture)}";
            }

            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return $"contains an unpaired surrogate (U+{((int)c).ToString("X4", CultureInfo.InvariantCulture)}) at position {i.ToString(CultureInfo.InvariantCulture)}";
            }
        }

        return null;
    }

    /// <summary><paramref name="value"/> with every character the database cannot hold replaced by U+FFFD, for the row of a refused request.</summary>
    public static string Sanitize(string value)
    {
        if (Problem(value) is null)
        {
            return value;
        }

        var text = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                text.Append(c).Append(value[++i]);
            }
            else
            {
                text.Append(c == '\0' || char.IsSurrogate(c) ? '\uFFFD' : c);
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// At most <paramref name="length"/> characters of <paramref name="value"/>, never cutting a surrogate pair in
    /// half (half a pair is text the database cannot store).
    /// </summary>
    public static string Truncate(string value, int length) =>
        value.Length <= length ? value : value[..(char.IsHighSurrogate(value[length - 1]) ? length - 1 : length)];

    /// <summary>Bytes <paramref name="value"/> takes in UTF-8 (a file name's limit is counted in these).</summary>
    public static int Utf8Length(string value) => Encoding.UTF8.GetByteCount(value);
}
