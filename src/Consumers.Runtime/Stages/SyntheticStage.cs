using System.Globalization;
using System.Text.Json;
using Consumers.Runtime.Failures;

namespace Consumers.Runtime.Stages;

/// <summary>
/// A stand-in for real work, for tests, demos and the benchmark: it waits <c>durationMs</c> (in
/// <c>steps</c> progress steps) and writes a small JSON file. <c>failCode</c> makes it fail with that error
/// code on attempts up to <c>failAttempts</c> (default: every attempt). It reads no source.
/// </summary>
public sealed class SyntheticStage : IStage
{
    public const string StageName = "synthetic";

    public string Name => StageName;

    public bool NeedsSource => false;

    public async Task<StageOutput> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        var durationMs = Int(context, "durationMs", 0);
        var steps = Math.Max(1, Int(context, "steps", 10));
        for (var step = 1; step <= steps && durationMs > 0; step++)
        {
            await Task.Delay(durationMs / steps, cancellationToken);
            context.Progress.Report(100.0 * step / steps);
        }

        var failCode = context.Parameter("failCode");
        var failAttempts = Int(context, "failAttempts", int.MaxValue);
        if (!string.IsNullOrEmpty(failCode) && context.Attempt <= failAttempts)
        {
            throw new JobFailureException(failCode, $"synthetic failure on attempt {context.Attempt}");
        }

        var output = Path.Combine(context.ScratchDirectory, "synthetic.json");
        await File.WriteAllTextAsync(output, JsonSerializer.Serialize(new { context.JobId, durationMs }, ContractJson.Options), cancellationToken);
        return new StageOutput(output);
    }

    private static int Int(StageContext context, string name, int fallback) =>
        int.TryParse(context.Parameter(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : fallback;
}
