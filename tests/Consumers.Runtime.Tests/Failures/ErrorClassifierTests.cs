using System.Net.Sockets;
using Consumers.Contracts;
using Consumers.Runtime.Failures;

namespace Consumers.Runtime.Tests.Failures;

public sealed class ErrorClassifierTests
{
    public static TheoryData<Exception, string, ErrorClass> Cases => new()
    {
        { new FileNotFoundException("gone"), ErrorCodes.SourceNotFound, ErrorClass.Fatal },
        { new DirectoryNotFoundException("gone"), ErrorCodes.SourceNotFound, ErrorClass.Fatal },
        { new UnauthorizedAccessException("no"), ErrorCodes.SourceUnreadable, ErrorClass.Fatal },
        { new TimeoutException("slow"), ErrorCodes.Timeout, ErrorClass.Transient },
        { new SocketException(111), ErrorCodes.DependencyUnavailable, ErrorClass.Transient },
        { new IOException("No space left on device"), ErrorCodes.OutOfResources, ErrorClass.Transient },
        { new JobFailureException(ErrorCodes.CorruptMedia, "bad"), ErrorCodes.CorruptMedia, ErrorClass.Fatal },
        { new JobFailureException(ErrorCodes.DependencyUnavailable, "later"), ErrorCodes.DependencyUnavailable, ErrorClass.Transient },
        { new InvalidOperationException("surprise"), ErrorCodes.Internal, ErrorClass.Transient },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Maps_exceptions_to_codes_and_classes(Exception exception, string code, ErrorClass errorClass)
    {
        var classified = ErrorClassifier.Classify(exception);

        Assert.Equal(code, classified.Code);
        Assert.Equal(errorClass, classified.Class);
    }

    [Fact]
    public void Unknown_errors_say_they_are_unclassified()
    {
        var classified = ErrorClassifier.Classify(new InvalidOperationException("surprise"));

        Assert.Contains("unclassified", classified.Message, StringComparison.Ordinal);
        Assert.Contains("InvalidOperationException", classified.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_published_code_is_in_the_catalogue()
    {
        var published = typeof(ErrorCodes).GetFields().Select(f => (string)f.GetValue(null)!).ToList();

        Assert.All(published, code => Assert.Contains(code, ErrorCatalogue.Codes));
        Assert.Equal(published.Count, ErrorCatalogue.Codes.Count);
    }

    [Fact]
    public void A_code_nobody_catalogued_is_transient()
    {
        Assert.Equal(ErrorClass.Transient, ErrorCatalogue.ClassOf("SOMETHING_NEW"));
    }

    [Fact]
    public void Field_of_an_invalid_request_survives_classification()
    {
        var classified = ErrorClassifier.Classify(new JobFailureException(ErrorCodes.InvalidRequest, "outputKey escapes its root") { Field = "outputKey" });

        Assert.Equal("outputKey", classified.Field);
        Assert.True(classified.IsFatal);
    }
}
