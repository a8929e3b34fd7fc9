namespace LlmMerge.Engine.Methods;

/// <summary>DARE TIES (https://arxiv.org/abs/2311.03099): task arithmetic with the sum sign election, random (Bernoulli) sparsification.</summary>
public sealed class DareTiesMerge : TaskArithmeticFamily
{
    public override string Name => "dare_ties";

    public override string PrettyName => "DARE TIES";

    public override string? ReferenceUrl => "https://arxiv.org/abs/2311.03099";

    protected override ConsensusMethod? Consensus => ConsensusMethod.Sum;

    protected override SparsificationMethod? Sparsify => SparsificationMethod.Random;

    protected override bool DefaultNormalize => false;

    protected override bool DefaultRescale => true;
}
