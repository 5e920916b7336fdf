namespace Consumers.Runtime.Leases;

/// <summary>
/// What self-fencing needs of the job intake: close it while this worker cannot renew its leases, open it again
/// when a beat gets through. Each reason closes independently; the intake stays closed while any reason holds.
/// </summary>
internal interface IIntakeSwitch
{
    void Close(string reason);

    Task OpenAsync(string reason, CancellationToken cancellationToken);
}
