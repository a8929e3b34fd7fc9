namespace LlmMerge.Engine.Methods;

/// <summary>How TIES-style methods elect a sign per entry (mergekit's ConsensusMethod).</summary>
public enum ConsensusMethod
{
    /// <summary>The sign of the sum of the weighted deltas (the TIES paper); zero counts as positive.</summary>
    Sum,

    /// <summary>The sign held by more models.</summary>
    Count,
}
