namespace LlmMerge.Engine.Methods;

/// <summary>Task Arithmetic (https://arxiv.org/abs/2212.04089): task arithmetic with no sign election, no sparsification.</summary>
public sealed class TaskArithmeticMerge : TaskArithmeticFamily
{
    public override string Name => "task_arithmetic";

    public override string PrettyName => "Task Arithmetic";

    public override string? ReferenceUrl => "https://arxiv.org/abs/2212.04089";

    protected override ConsensusMethod? Consensus => null;

    protected override SparsificationMethod? Sparsify => null;

    protected override bool DefaultNormalize => false;

    protected override bool DefaultRescale => false;
}
