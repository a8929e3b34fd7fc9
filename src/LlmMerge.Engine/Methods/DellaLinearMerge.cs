namespace LlmMerge.Engine.Methods;

/// <summary>Linear DELLA (https://arxiv.org/abs/2406.11617): task arithmetic with no sign election, MagPrune sparsification.</summary>
public sealed class DellaLinearMerge : TaskArithmeticFamily
{
    public override string Name => "della_linear";

    public override string PrettyName => "Linear DELLA";

    public override string? ReferenceUrl => "https://arxiv.org/abs/2406.11617";

    protected override ConsensusMethod? Consensus => null;

    protected override SparsificationMethod? Sparsify => SparsificationMethod.DellaMagprune;

    protected override bool DefaultNormalize => false;

    protected override bool DefaultRescale => true;
}
