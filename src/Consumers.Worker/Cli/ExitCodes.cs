namespace Consumers.Worker.Cli;

/// <summary>What the <c>consumers</c> command's exit status means.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The command ran and found a problem (a job failed, a check found violations).</summary>
    public const int Failed = 1;
    /// <summary>The command line was wrong.</summary>
    public const int Usage = 2;
    /// <summary>The job (or other thing named) does not exist.</summary>
    public const int NotFound = 3;
    /// <summary>PostgreSQL or RabbitMQ could not be reached.</summary>
    public const int Unavailable = 4;
}
