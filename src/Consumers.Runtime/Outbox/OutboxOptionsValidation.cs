using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Outbox;

/// <summary>Refuses unsound outbox settings at start-up, naming each problem.</summary>
internal sealed class OutboxOptionsValidation : IValidateOptions<OutboxOptions>
{
    public ValidateOptionsResult Validate(string? name, OutboxOptions options)
    {
        var problems = options.Problems();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems.Select(p => "Consumers:Outbox: " + p));
    }
}
