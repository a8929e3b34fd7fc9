namespace LlmMerge.Engine.Methods;

/// <summary>
/// DELLA (https://arxiv.org/abs/2406.11617): task arithmetic with the sum sign election and MagPrune, which keeps
/// each delta entry with a probability that grows with its magnitude rank in its row (density ± epsilon).
/// </summary>
public sealed class DellaMerge : TaskArithmeticFamily
{
    public override string Name => "della";

    public override string PrettyName => "DELLA";

    public override string? ReferenceUrl => "https://arxiv.org/abs/2406.11617";

    protected override ConsensusMethod? Consensus => ConsensusMethod.Sum;

    protected override SparsificationMethod? Sparsify => SparsificationMethod.DellaMagprune;

    protected override bool DefaultNormalize => true;

    protected override bool DefaultRescale => true;
}
