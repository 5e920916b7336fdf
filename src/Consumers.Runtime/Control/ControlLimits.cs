namespace Consumers.Runtime.Control;

/// <summary>Column lengths of what operators type; longer input is clipped, never refused.</summary>
public static class ControlLimits
{
    public const int Reason = 500;
    public const int By = 128;

    public static string? Clip(string? value, int length) =>
        value is null ? null : value.Length <= length ? value : value[..length];
}
