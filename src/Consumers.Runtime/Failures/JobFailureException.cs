namespace Consumers.Runtime.Failures;

/// <summary>A failure whose code is already known (thrown by stages, validation and the artifact store).</summary>
public sealed class JobFailureException : Exception
{
    public JobFailureException(string code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    /// <summary>A code from <see cref="Contracts.ErrorCodes"/>.</summary>
    public string Code { get; }

    /// <summary>The request field at fault, for <c>INVALID_REQUEST</c>.</summary>
    public string? Field { get; init; }
}
