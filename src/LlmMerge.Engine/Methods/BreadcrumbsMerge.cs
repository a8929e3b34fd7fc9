namespace LlmMerge.Engine.Methods;

/// <summary>Model Breadcrumbs (https://arxiv.org/abs/2312.06795): task arithmetic with no sign election, magnitude-outlier sparsification.</summary>
public sealed class BreadcrumbsMerge : TaskArithmeticFamily
{
    public override string Name => "breadcrumbs";

    public override string PrettyName => "Model Breadcrumbs";

    public override string? ReferenceUrl => "https://arxiv.org/abs/2312.06795";

    protected override ConsensusMethod? Consensus => null;

    protected override SparsificationMethod? Sparsify => SparsificationMethod.MagnitudeOutliers;

    protected override bool DefaultNormalize => false;

    protected override bool DefaultRescale => false;
}
