namespace Consumers.Runtime.Persistence;

/// <summary>Settings under <c>Consumers:Database</c>.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Consumers:Database";

    /// <summary>Npgsql connection string. The pool size in it should cover the worker's slots plus a few loops.</summary>
    public string ConnectionString { get; set; } =
        "Host=127.0.0.1;Port=54329;Database=consumers;Username=consumers;Password=consumers";

    /// <summary>Seconds a single statement may run before it is cancelled.</summary>
    public int CommandTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// How long <c>consumers run</c> waits at start-up for the schema (every migration of this version applied, see
    /// <c>consumers migrate</c>) before it exits with code 4. Nothing starts, and no job is taken, while it waits.
    /// Zero: exit at once.
    /// </summary>
    public TimeSpan SchemaWaitTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often the schema is checked again while <c>run</c> waits for it.</summary>
    public TimeSpan SchemaPollInterval { get; set; } = TimeSpan.FromSeconds(2);
}
