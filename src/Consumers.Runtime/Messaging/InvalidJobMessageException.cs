namespace Consumers.Runtime.Messaging;

/// <summary>
/// A delivery that cannot be tied to a job (no job id). MassTransit moves it to the <c>_error</c> queue with
/// this message in its <c>MT-Fault-Message</c> header, so nothing is lost and the consumer goes on.
/// </summary>
public sealed class InvalidJobMessageException(string message) : Exception(message);
