namespace Consumers.Media;

/// <summary>Marker for this assembly (reflection over its settings and stages).</summary>
public static class MediaAssembly;
