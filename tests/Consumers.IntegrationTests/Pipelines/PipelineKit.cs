using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using Consumers.Runtime.Pipelines;
using Microsoft.EntityFrameworkCore;

namespace Consumers.IntegrationTests.Pipelines;

/// <summary>Pipelines the tests submit, and reads of a pipeline's rows and timeline.</summary>
internal static class PipelineKit
{
    /// <summary>probe, then thumbnail, waveform and transcode, each waiting for the probe; no clip duration given.</summary>
    public static PipelineRequested Media(string source, string prefix, Guid? id = null) => new()
    {
        PipelineId = id ?? Guid.NewGuid(),
        Source = source,
        Steps =
        [
            new PipelineStep { Name = "probe", Stage = "probe", OutputKey = $"{prefix}/probe.json" },
            new PipelineStep { Name = "thumbnail", Stage = "thumbnail", OutputKey = $"{prefix}/thumb.jpg", DependsOn = ["probe"] },
            new PipelineStep { Name = "waveform", Stage = "waveform", OutputKey = $"{prefix}/waveform.png", DependsOn = ["probe"] },
            new PipelineStep
            {
                Name = "transcode", Stage = "transcode", OutputKey = $"{prefix}/proxy.mp4", DependsOn = ["probe"],
                Parameters = new Dictionary<string, string> { ["height"] = "120" },
            },
        ],
    };

    public static PipelineStep Synthetic(string name, string key, int durationMs, params string[] dependsOn) => new()
    {
        Name = name,
        Stage = "synthetic",
        OutputKey = key,
        DependsOn = dependsOn,
        Parameters = new Dictionary<string, string> { ["durationMs"] = durationMs.ToString(System.Globalization.CultureInfo.InvariantCulture) },
    };

    public static async Task<PipelineRecord?> PipelineAsync(this TestEnvironment env, Guid id)
    {
        await using var db = env.NewDbContext();
        return await db.Pipelines.AsNoTracking().SingleOrDefaultAsync(p => p.Id == id);
    }

    public static async Task<List<PipelineStepRecord>> StepsAsync(this TestEnvironment env, Guid id)
    {
        await using var db = env.NewDbContext();
        return await db.PipelineSteps.AsNoTracking().Where(s => s.PipelineId == id).OrderBy(s => s.Ord).ToListAsync();
    }

    public static async Task<List<PipelineEventRecord>> PipelineTimelineAsync(this TestEnvironment env, Guid id)
    {
        await using var db = env.NewDbContext();
        return await db.PipelineEvents.AsNoTracking().Where(e => e.PipelineId == id).OrderBy(e => e.Seq).ToListAsync();
    }

    /// <summary>Waits until the pipeline ended (a hang guard, not a timing assertion) and returns it.</summary>
    public static async Task<PipelineRecord> WaitForPipelineAsync(this TestEnvironment env, Guid id, TimeSpan? timeout = null)
    {
        PipelineRecord? pipeline = null;
        await Eventually.WaitAsync(async () =>
        {
            pipeline = await env.PipelineAsync(id);
            return pipeline is not null && pipeline.Status != "running";
        }, timeout ?? TimeSpan.FromSeconds(120), () => $"pipeline {id} did not finish; status {pipeline?.Status ?? "(no row)"}");
        return pipeline!;
    }

    /// <summary>The pipeline's timeline keeps its rules, and so does every job's.</summary>
    public static async Task AssertTimelinesValidAsync(this TestEnvironment env, Guid id)
    {
        var violations = PipelineTimelineChecker.Check(id, await env.PipelineTimelineAsync(id), await env.StepsAsync(id));
        Assert.True(violations.Count == 0, "pipeline timeline violations:\n" + string.Join("\n", violations));
        await env.AssertAllTimelinesValidAsync();
    }

    public static string Data(this PipelineEventRecord e, string name) =>
        System.Text.Json.JsonDocument.Parse(e.Data).RootElement.TryGetProperty(name, out var value) ? value.ToString() : "";
}
