using System.Collections.Frozen;
using Consumers.Contracts;

namespace Consumers.Runtime.Failures;

/// <summary>The class of every known code. Unknown codes are transient (and say so), so a typo never fails work for good.</summary>
public static class ErrorCatalogue
{
    private static readonly FrozenDictionary<string, ErrorClass> Classes = new Dictionary<string, ErrorClass>
    {
        [ErrorCodes.SourceNotFound] = ErrorClass.Fatal,
        [ErrorCodes.SourceUnreadable] = ErrorClass.Fatal,
        [ErrorCodes.InvalidRequest] = ErrorClass.Fatal,
        [ErrorCodes.UnsupportedMedia] = ErrorClass.Fatal,
        [ErrorCodes.CorruptMedia] = ErrorClass.Fatal,
        [ErrorCodes.DependencyUnavailable] = ErrorClass.Transient,
        [ErrorCodes.Timeout] = ErrorClass.Transient,
        [ErrorCodes.OutOfResources] = ErrorClass.Transient,
        [ErrorCodes.ArtifactInvalid] = ErrorClass.Transient,
        [ErrorCodes.LeaseLost] = ErrorClass.Transient,
        [ErrorCodes.Cancelled] = ErrorClass.Transient,
        [ErrorCodes.RetriesExhausted] = ErrorClass.Fatal,
        [ErrorCodes.Quarantined] = ErrorClass.Fatal,
        [ErrorCodes.Internal] = ErrorClass.Transient,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static IReadOnlyCollection<string> Codes => Classes.Keys;

    public static ErrorClass ClassOf(string code) =>
        Classes.TryGetValue(code, out var errorClass) ? errorClass : ErrorClass.Transient;
}
