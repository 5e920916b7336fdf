namespace Consumers.Runtime.Scratch;

/// <summary>What the scratch janitor asks of the job store: the status and attempt count of the jobs whose folders it found.</summary>
public interface IAttemptStates
{
    Task<IReadOnlyDictionary<Guid, (string Status, int Attempt)>> AttemptStatesAsync(IReadOnlyCollection<Guid> jobIds, CancellationToken cancellationToken);
}
