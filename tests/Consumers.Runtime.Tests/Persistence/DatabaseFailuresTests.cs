using System.Net.Sockets;
using Consumers.Contracts;
using Consumers.Runtime.Failures;
using Consumers.Runtime.Persistence;
using Npgsql;

namespace Consumers.Runtime.Tests.Persistence;

/// <summary>Which errors mean "the database path is down" (hand the work back, do not charge) and which are about the statement.</summary>
public sealed class DatabaseFailuresTests
{
    public static TheoryData<string, bool> States => new()
    {
        { "53300", true },  // too many clients
        { "57P01", true },  // session terminated by an administrator
        { "57P03", true },  // the server is starting up
        { "08006", true },  // connection failure
        { "57014", true },  // statement timeout
        { "22021", false }, // NUL in a text parameter: the request, not the database
        { "23505", false }, // unique violation
        { "42P01", false }, // missing table: a bug or a missing migration, not an outage
    };

    [Theory]
    [MemberData(nameof(States))]
    public void A_server_error_is_an_outage_only_for_connection_and_resource_states(string state, bool unavailable) =>
        Assert.Equal(unavailable, DatabaseFailures.IsUnavailable(new PostgresException("x", "FATAL", "FATAL", state)));

    [Fact]
    public void Refused_and_broken_connections_are_outages()
    {
        Assert.True(DatabaseFailures.IsUnavailable(new NpgsqlException("Failed to connect", new SocketException(111))));
        Assert.True(DatabaseFailures.IsUnavailable(new NpgsqlException("Exception while reading from stream", new EndOfStreamException())));
        Assert.True(DatabaseFailures.IsUnavailable(new NpgsqlException("Exception while reading from stream", new TimeoutException())));
    }

    [Fact]
    public void Errors_outside_the_database_path_are_not()
    {
        Assert.False(DatabaseFailures.IsUnavailable(new InvalidOperationException("bug")));
        Assert.False(DatabaseFailures.IsUnavailable(new TimeoutException("a stage's own timeout")));
        Assert.False(DatabaseFailures.IsUnavailable(new JobFailureException(ErrorCodes.DependencyUnavailable, "a stage's dependency")));
    }

    [Fact]
    public void A_database_failure_of_the_worker_itself_does_not_use_up_an_attempt_unless_configured()
    {
        var options = new RetryOptions();
        var last = options.Decide(ErrorCodes.DependencyUnavailable, attempt: 3, chargedAttempts: 3, jobMaxAttempts: 3, databaseFailure: true);
        Assert.True(last.Retry);
        Assert.False(last.ChargesAttempt);
        Assert.False(options.Decide(ErrorCodes.DependencyUnavailable, 3, 3, 3).Retry);

        options.ChargeDatabaseFailures = true;
        Assert.False(options.Decide(ErrorCodes.DependencyUnavailable, 3, 3, 3, databaseFailure: true).Retry);
    }

    [Fact]
    public void A_nul_in_an_error_message_is_spelled_out_so_the_outcome_can_be_written()
    {
        var message = ErrorClassifier.Classify(new InvalidDataException("bad \0 byte")).Message;
        Assert.DoesNotContain('\0', message);
        Assert.Contains("bad \\0 byte", message, StringComparison.Ordinal);
    }
}
