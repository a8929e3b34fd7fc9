namespace LlmMerge.Engine.Methods;

/// <summary>Model Breadcrumbs with TIES (https://arxiv.org/abs/2312.06795): task arithmetic with the sum sign election, magnitude-outlier sparsification.</summary>
public sealed class BreadcrumbsTiesMerge : TaskArithmeticFamily
{
    public override string Name => "breadcrumbs_ties";

    public override string PrettyName => "Model Breadcrumbs with TIES";

    public override string? ReferenceUrl => "https://arxiv.org/abs/2312.06795";

    protected override ConsensusMethod? Consensus => ConsensusMethod.Sum;

    protected override SparsificationMethod? Sparsify => SparsificationMethod.MagnitudeOutliers;

    protected override bool DefaultNormalize => false;

    protected override bool DefaultRescale => false;
}
