namespace Consumers.Contracts;

/// <summary>The range of <see cref="JobRequested.Priority"/>: higher runs first among jobs waiting in the same queue.</summary>
public static class JobPriority
{
    public const int Lowest = 0;
    public const int Highest = 9;

    /// <summary>What a request without a priority gets: the middle, so a producer can go both ways.</summary>
    public const int Default = 5;
}
