using System.Diagnostics;
using System.Globalization;

namespace Consumers.Bench.Infrastructure;

/// <summary>Progress lines on stderr, stamped with the time since the run began, so stdout stays the result.</summary>
public static class Progress
{
    private static readonly Stopwatch Clock = Stopwatch.StartNew();

    public static void Line(string message) =>
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{Clock.Elapsed.TotalSeconds,6:F1}s] {message}"));
}
