using System.Net;

namespace Consumers.Admin;

/// <summary>
/// Settings under <c>Consumers:Admin</c>: the admin API and dashboard that <c>consumers serve</c> runs (and a worker
/// runs too when <see cref="Enabled"/>). Every request needs a credential from <see cref="Viewers"/> or
/// <see cref="Operators"/>; the credential's name is who the audit and the job's timeline record.
/// </summary>
public sealed class AdminOptions : Runtime.Settings.IValidatedSettings
{
    public const string Section = "Consumers:Admin";

    /// <summary>The shortest key accepted: a key is a password sent on every request.</summary>
    public const int MinimumKeyLength = 16;

    /// <summary>Also serve the admin API and dashboard inside <c>consumers run</c> (<c>consumers serve</c> always does).</summary>
    public bool Enabled { get; set; }

    /// <summary>Address the admin server listens on. Loopback by default: reach it through an SSH tunnel or a TLS proxy.</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>Port of the admin server (0 picks a free port; the server prints the one it took).</summary>
    public int Port { get; set; } = 9470;

    /// <summary>Read-only credentials, name to key: they see everything and act on nothing.</summary>
    public Dictionary<string, string> Viewers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Operator credentials, name to key: they also cancel, requeue, pause, resume and replay.</summary>
    public Dictionary<string, string> Operators { get; set; } = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public IReadOnlyList<string> Problems()
    {
        var rules = new Runtime.Settings.SettingsRules(Section)
            .Require(IPAddress.TryParse(Address, out _), nameof(Address), $"must be an IP address (is '{Address}')")
            .Within(Port, 0, 65535, nameof(Port))
            .Require(Viewers.Count + Operators.Count > 0, nameof(Operators),
                "must name at least one credential (or Viewers must): the admin server refuses to run open; e.g. Consumers:Admin:Operators:alice=<key>");
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (group, credentials) in new[] { (nameof(Viewers), Viewers), (nameof(Operators), Operators) })
        {
            foreach (var (name, key) in credentials)
            {
                rules.Require(!string.IsNullOrWhiteSpace(name) && name.Length <= Runtime.Control.ControlLimits.By, $"{group}:{name}",
                        $"needs a name of 1 to {Runtime.Control.ControlLimits.By} characters")
                    .Require(key is { Length: >= MinimumKeyLength }, $"{group}:{name}", $"key must be at least {MinimumKeyLength} characters")
                    .Require(key is null || keys.Add(key), $"{group}:{name}", "key is already another credential's; each person gets their own");
            }
        }

        return rules.Problems;
    }
}
