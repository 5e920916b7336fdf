using System.Net.Sockets;
using Consumers.Contracts;
using Npgsql;

namespace Consumers.Runtime.Failures;

/// <summary>Maps any exception to a code and class, so every failure is either retried or ends the job. Stages that know better throw <see cref="JobFailureException"/>.</summary>
public static class ErrorClassifier
{
    public static ClassifiedError Classify(Exception exception)
    {
        var (code, message, field) = exception switch
        {
            JobFailureException failure => (failure.Code, failure.Message, failure.Field),
            FileNotFoundException or DirectoryNotFoundException => (ErrorCodes.SourceNotFound, exception.Message, null),
            UnauthorizedAccessException => (ErrorCodes.SourceUnreadable, exception.Message, null),
            TimeoutException => (ErrorCodes.Timeout, exception.Message, null),
            OutOfMemoryException => (ErrorCodes.OutOfResources, exception.Message, null),
            IOException io when IsDiskFull(io) => (ErrorCodes.OutOfResources, io.Message, null),
            NpgsqlException or SocketException => (ErrorCodes.DependencyUnavailable, exception.Message, null),
            OperationCanceledException => (ErrorCodes.Cancelled, exception.Message, null),
            _ => (ErrorCodes.Internal, $"{exception.GetType().Name}: {exception.Message} (unclassified: retried until the attempt limit)", null),
        };
        return new ClassifiedError(code, ErrorCatalogue.ClassOf(code), Truncate(message), field);
    }

    private static bool IsDiskFull(IOException exception) =>
        exception.HResult == 28 || exception.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase);

    // PostgreSQL text and jsonb cannot hold NUL (22021, 22P05): a message quoting binary output would make the
    // outcome itself unwritable, so NUL is spelled out.
    private static string Truncate(string message)
    {
        message = message.Replace("\0", "\\0", StringComparison.Ordinal);
        return message.Length <= 2000 ? message : message[..2000];
    }
}
