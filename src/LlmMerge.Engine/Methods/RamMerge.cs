using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// RAM, Reinforced Agent Merging (https://arxiv.org/abs/2601.13572), as mergekit's <c>ram</c>
/// (mergekit/merge_methods/ram.py at commit a6e40288): entries of the task vectors at most <c>epsilon</c> in
/// magnitude are dropped; an entry only one model changes is taken whole, an entry several change is their mean;
/// the result is added to the base.
/// </summary>
public sealed class RamMerge : IMergeMethod
{
    public string Name => "ram";

    public string PrettyName => "Reinforced Agent Merging";

    public string? ReferenceUrl => "https://arxiv.org/abs/2601.13572";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } = [new("epsilon", Default: 1e-5)];

    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [];

    public bool RequiresBaseModel => true;

    public Tensor Merge(MergeInputs inputs)
    {
        using var scope = NewDisposeScope();
        var baseInput = inputs.Base ?? throw new LlmMergeException($"{Name}: base_model is not among the inputs of tensor '{inputs.TensorName}'");
        var others = inputs.Tensors.Where(m => m != baseInput).Select(m => m.Tensor).ToList();
        if (others.Count == 0)
            return baseInput.Tensor.alias().MoveToOuterDisposeScope();
        var b = baseInput.Tensor;
        var v = RamVectors.Of(others, b, inputs.Number("epsilon"));
        var kept = v.Kept;
        var merged = kept.mul(v.Unique).add(v.OverlapTerm(kept)).sum([0], keepdim: true);
        return b.add(merged.reshape(b.shape)).MoveToOuterDisposeScope();
    }
}
