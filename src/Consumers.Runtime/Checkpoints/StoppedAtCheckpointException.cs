namespace Consumers.Runtime.Checkpoints;

/// <summary>
/// Thrown by a stage that stopped right after saving a checkpoint because the worker is shutting down
/// (<see cref="Stages.StageContext.ShutdownRequested"/>). The runtime requeues the job at once, uncharged.
/// </summary>
public sealed class StoppedAtCheckpointException() : Exception("stopped at a checkpoint for the shutdown");
