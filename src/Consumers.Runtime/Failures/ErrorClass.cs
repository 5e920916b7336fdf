namespace Consumers.Runtime.Failures;

/// <summary>Whether trying again can help.</summary>
public enum ErrorClass
{
    /// <summary>May succeed on another attempt: retried with backoff until the attempt limit.</summary>
    Transient,
    /// <summary>Will fail the same way every time: the job fails at once.</summary>
    Fatal,
}
