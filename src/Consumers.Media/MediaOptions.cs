namespace Consumers.Media;

/// <summary>Settings under <c>Consumers:Media</c>.</summary>
public sealed class MediaOptions
{
    public const string Section = "Consumers:Media";

    /// <summary>The ffmpeg executable (Debian's, from PATH, by default).</summary>
    public string FfmpegPath { get; set; } = "ffmpeg";

    /// <summary>The ffprobe executable.</summary>
    public string FfprobePath { get; set; } = "ffprobe";

    /// <summary>
    /// Container formats ffmpeg may open. Playlists and concat lists (hls, concat) are left out on purpose: they
    /// make ffmpeg read other files, which a crafted source could point anywhere.
    /// </summary>
    public string AllowedFormats { get; set; } = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,wav,mp3,flac,ogg,mpegts,mpeg,aac,image2,png_pipe,jpeg_pipe";
}
