namespace Consumers.Runtime.Persistence;

/// <summary>Settings under <c>Consumers:Database</c>.</summary>
public sealed class DatabaseOptions : Settings.IValidatedSettings
{
    public const string Section = "Consumers:Database";

    /// <summary>Npgsql connection string. The pool size in it should cover the worker's slots plus a few loops.</summary>
    public string ConnectionString { get; set; } =
        "Host=127.0.0.1;Port=54329;Database=consumers;Username=consumers;Password=consumers";

    /// <summary>Seconds a single statement may run before it is cancelled.</summary>
    public int CommandTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// How often a worker checks, on a fresh connection, that PostgreSQL answers. While it does not (down, too slow,
    /// out of connections) the worker's job intake is closed; the first answer opens it again.
    /// </summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A probe that takes longer than this counts as no answer (PostgreSQL too slow to take work).</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a delivery's acquire may wait for PostgreSQL. Past it the worker stops waiting (on a path that accepts
    /// the connection but never answers, Npgsql would wait out its own timeouts, about 19 s), hands the delivery back to
    /// its queue uncharged and closes its job intake until the database probe gets an answer again. Must be below the
    /// shortest lease's self-fencing point (<c>Consumers:Leases:LeaseTimeout</c> x <c>SelfFenceFraction</c>).
    /// </summary>
    public TimeSpan AcquireTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long <c>consumers run</c> waits at start-up for the schema (every migration of this version applied, see
    /// <c>consumers migrate</c>) before it exits with code 4. Nothing starts, and no job is taken, while it waits.
    /// Zero: exit at once.
    /// </summary>
    public TimeSpan SchemaWaitTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often the schema is checked again while <c>run</c> waits for it.</summary>
    public TimeSpan SchemaPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <inheritdoc />
    public IReadOnlyList<string> Problems()
    {
        var rules = new Settings.SettingsRules(Section)
            .Require(!string.IsNullOrWhiteSpace(ConnectionString), nameof(ConnectionString), "must be set")
            .Within(CommandTimeoutSeconds, 1, 3600, nameof(CommandTimeoutSeconds))
            .Positive(ProbeInterval, nameof(ProbeInterval))
            .Positive(ProbeTimeout, nameof(ProbeTimeout))
            .Positive(AcquireTimeout, nameof(AcquireTimeout))
            .Require(SchemaWaitTimeout >= TimeSpan.Zero, nameof(SchemaWaitTimeout), "must not be negative (zero: exit at once)")
            .Positive(SchemaPollInterval, nameof(SchemaPollInterval));
        try
        {
            _ = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString);
        }
        catch (ArgumentException ex)
        {
            rules.Require(false, nameof(ConnectionString), "is not a valid Npgsql connection string: " + ex.Message);
        }

        return rules.Problems;
    }
}
