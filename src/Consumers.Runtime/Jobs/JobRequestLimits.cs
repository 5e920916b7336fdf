namespace Consumers.Runtime.Jobs;

/// <summary>Sizes a request's fields may have; the job columns are sized to match.</summary>
public static class JobRequestLimits
{
    public const int Stage = 64;
    public const int Source = 4096;
    public const int OutputKey = 1024;
    public const int Parameters = 64;
    public const int ParameterLength = 1024;
    public const int MaxAttempts = 100;
}
