namespace LlmMerge.Engine.Methods;

/// <summary>TIES (https://arxiv.org/abs/2306.01708): task arithmetic with the sum sign election, magnitude sparsification.</summary>
public sealed class TiesMerge : TaskArithmeticFamily
{
    public override string Name => "ties";

    public override string PrettyName => "TIES";

    public override string? ReferenceUrl => "https://arxiv.org/abs/2306.01708";

    protected override ConsensusMethod? Consensus => ConsensusMethod.Sum;

    protected override SparsificationMethod? Sparsify => SparsificationMethod.Magnitude;

    protected override bool DefaultNormalize => true;

    protected override bool DefaultRescale => false;
}
