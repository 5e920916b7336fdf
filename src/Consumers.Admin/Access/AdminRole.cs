namespace Consumers.Admin.Access;

/// <summary>What a credential may do.</summary>
public enum AdminRole
{
    /// <summary>Read every view; no action.</summary>
    Viewer,

    /// <summary>Read and act: cancel, requeue, pause, resume, replay.</summary>
    Operator,
}

/// <summary>Who is asking, as the credential names them; <see cref="Name"/> is recorded as who acted.</summary>
public sealed record AdminCaller(string Name, AdminRole Role);
