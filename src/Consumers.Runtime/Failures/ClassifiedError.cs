namespace Consumers.Runtime.Failures;

/// <summary>An error reduced to what the runtime acts on.</summary>
public sealed record ClassifiedError(string Code, ErrorClass Class, string Message, string? Field = null)
{
    public bool IsFatal => Class == ErrorClass.Fatal;
}
