namespace LlmMerge.Engine.Methods;

/// <summary>Linear DARE (https://arxiv.org/abs/2311.03099): task arithmetic with no sign election, random (Bernoulli) sparsification.</summary>
public sealed class DareLinearMerge : TaskArithmeticFamily
{
    public override string Name => "dare_linear";

    public override string PrettyName => "Linear DARE";

    public override string? ReferenceUrl => "https://arxiv.org/abs/2311.03099";

    protected override ConsensusMethod? Consensus => null;

    protected override SparsificationMethod? Sparsify => SparsificationMethod.Random;

    protected override bool DefaultNormalize => false;

    protected override bool DefaultRescale => true;
}
