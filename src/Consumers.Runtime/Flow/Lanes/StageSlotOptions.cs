namespace Consumers.Runtime.Flow.Lanes;

/// <summary>One entry of <c>Consumers:Flow:Stages</c>: a stage that runs in a lane of its own.</summary>
public sealed class StageSlotOptions
{
    /// <summary>Jobs of this stage one worker runs at once, on their own queue; 0 puts the stage back in the shared lane.</summary>
    public int Slots { get; set; }

    /// <summary>The floor adaptive concurrency may lower this lane to.</summary>
    public int MinSlots { get; set; } = 1;
}
