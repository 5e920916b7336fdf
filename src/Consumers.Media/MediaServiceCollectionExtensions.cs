using Consumers.Media.Ffmpeg;
using Consumers.Media.Stages;
using Consumers.Runtime.Settings;
using Consumers.Runtime.Stages;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Consumers.Media;

public static class MediaServiceCollectionExtensions
{
    /// <summary>The ffmpeg stages: probe, thumbnail, transcode, waveform.</summary>
    public static IServiceCollection AddMediaStages(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedSettings<MediaOptions>(configuration, MediaOptions.Section);
        services.AddSingleton<FfmpegRunner>();
        services.AddSingleton<IStage, ProbeStage>();
        services.AddSingleton<IStage, ThumbnailStage>();
        services.AddSingleton<IStage, TranscodeStage>();
        services.AddSingleton<IStage, WaveformStage>();
        return services;
    }
}
