namespace Consumers.Runtime.Control;

/// <summary>
/// What a cancel request's id may name besides a job (a pipeline, cancelled as a whole): registered by the feature that
/// owns it, so a <c>CancelJob</c> message reaches it without the control plane depending on that feature.
/// </summary>
public interface ICancelOtherwise
{
    /// <summary>Cancels <paramref name="id"/> if it is one of this feature's; the outcome's name, or null when the id is not one.</summary>
    Task<string?> CancelAsync(Guid id, string? reason, string by, CancellationToken cancellationToken);
}
