using System.Globalization;

namespace Consumers.Bench.Infrastructure;

public static class Stats
{
    /// <summary>Nearest-rank percentile of <paramref name="sorted"/> (ascending); null for no samples.</summary>
    public static double? Percentile(IReadOnlyList<double> sorted, double percentile)
    {
        if (sorted.Count == 0)
        {
            return null;
        }

        var rank = (int)Math.Ceiling(percentile / 100.0 * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    public static double? Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return Percentile(sorted, 50);
    }

    /// <summary>
    /// Cumulative bucket counts (upper bound → count) of a Prometheus histogram whose name starts with
    /// <paramref name="metricPrefix"/>, summed over all label sets; optionally only lines containing <paramref name="labelFilter"/>.
    /// </summary>
    public static SortedDictionary<double, double> ParseHistogram(string prometheusText, string metricPrefix, string? labelFilter = null)
    {
        var buckets = new SortedDictionary<double, double>();
        foreach (var line in prometheusText.Split('\n'))
        {
            var open = line.IndexOf("_bucket{", StringComparison.Ordinal);
            if (!line.StartsWith(metricPrefix, StringComparison.Ordinal) || open < 0 ||
                (labelFilter is not null && !line.Contains(labelFilter, StringComparison.Ordinal)))
            {
                continue;
            }

            var le = line.IndexOf("le=\"", StringComparison.Ordinal);
            if (le < 0)
            {
                continue;
            }

            var end = line.IndexOf('"', le + 4);
            var boundText = line[(le + 4)..end];
            var bound = boundText == "+Inf" ? double.PositiveInfinity : double.Parse(boundText, CultureInfo.InvariantCulture);
            var valueText = line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0];
            buckets[bound] = buckets.GetValueOrDefault(bound) + double.Parse(valueText, CultureInfo.InvariantCulture);
        }

        return buckets;
    }

    /// <summary>A Prometheus counter (<paramref name="name"/>, e.g. <c>heartbeats_total</c>) summed over its label sets; 0 when absent.</summary>
    public static double ParseCounter(string prometheusText, string name)
    {
        var total = 0.0;
        foreach (var line in prometheusText.Split('\n'))
        {
            if (!line.StartsWith(name, StringComparison.Ordinal) || line.Length <= name.Length || line[name.Length] is not ('{' or ' '))
            {
                continue;
            }

            var rest = line[name.Length] == '{' ? line[(line.LastIndexOf('}') + 1)..] : line[name.Length..];
            var value = rest.Trim().Split(' ')[0];
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            {
                total += number;
            }
        }

        return total;
    }

    /// <summary>Bucket counts of <paramref name="after"/> minus those of <paramref name="before"/> (two scrapes of one process).</summary>
    public static SortedDictionary<double, double> Subtract(SortedDictionary<double, double> after, SortedDictionary<double, double> before)
    {
        var delta = new SortedDictionary<double, double>();
        foreach (var (bound, count) in after)
        {
            delta[bound] = count - before.GetValueOrDefault(bound);
        }

        return delta;
    }

    /// <summary>Observations in a cumulative histogram.</summary>
    public static double Count(SortedDictionary<double, double> buckets) => buckets.GetValueOrDefault(double.PositiveInfinity);

    /// <summary>
    /// A percentile of cumulative histogram buckets, linearly interpolated inside its bucket as Prometheus'
    /// histogram_quantile does. Null when there are no observations.
    /// </summary>
    public static double? HistogramPercentile(SortedDictionary<double, double> buckets, double percentile)
    {
        var total = Count(buckets);
        if (total <= 0)
        {
            return null;
        }

        var target = percentile / 100.0 * total;
        var lowerBound = 0.0;
        var lowerCount = 0.0;
        foreach (var (bound, cumulative) in buckets)
        {
            if (cumulative >= target)
            {
                if (double.IsPositiveInfinity(bound))
                {
                    return lowerBound;
                }

                var inBucket = cumulative - lowerCount;
                return inBucket <= 0 ? bound : lowerBound + ((bound - lowerBound) * (target - lowerCount) / inBucket);
            }

            lowerBound = bound;
            lowerCount = cumulative;
        }

        return lowerBound;
    }
}
