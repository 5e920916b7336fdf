using Consumers.Runtime.Leases;
using Consumers.Runtime.Persistence;
using Consumers.Runtime.Settings;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Consumers.Runtime.Jobs;

/// <summary>
/// <c>Consumers:Database:AcquireTimeout</c> against the lease settings (another section, so not in
/// <see cref="DatabaseOptions.Problems"/>): a lease counts from the moment its acquire was sent, so an acquire allowed
/// to answer after the lease's self-fencing point would hand out an attempt that is stopped as soon as it starts.
/// </summary>
/// <remarks>
/// The lease settings are bound here from the configuration, not taken from their options: reading those would fail
/// this validation with the lease section's own problems, which its validator reports already.
/// </remarks>
internal sealed class AcquireTimeoutRule(IConfiguration configuration) : IValidateOptions<DatabaseOptions>
{
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        var leases = new LeaseOptions();
        configuration.GetSection(LeaseOptions.Section).Bind(leases);
        if (leases.Problems().Count > 0)
        {
            return ValidateOptionsResult.Skip;
        }

        var problem = Problem(options, leases);
        return problem is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problem);
    }

    /// <returns>The broken rule in one line, or null.</returns>
    public static string? Problem(DatabaseOptions database, LeaseOptions leases)
    {
        var shortest = leases.ShortestLeaseTimeout;
        var fencePoint = leases.FenceAfter(shortest);
        var rules = new SettingsRules(DatabaseOptions.Section)
            .Require(database.AcquireTimeout < fencePoint, nameof(DatabaseOptions.AcquireTimeout),
                $"must be below the self-fencing point of the shortest lease ({shortest} x {leases.SelfFenceFraction} = {fencePoint}) (is {database.AcquireTimeout})");
        return rules.Problems.Count == 0 ? null : rules.Problems[0];
    }
}
