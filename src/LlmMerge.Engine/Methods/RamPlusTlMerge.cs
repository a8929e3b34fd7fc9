using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// RAM+ tensor-local, as mergekit's <c>ramplus_tl</c> (mergekit/merge_methods/ram.py at commit a6e40288): RAM,
/// with each model's unique entries scaled by 1 + r · clamp(ρ, 0, <c>alpha</c>), where ρ is that model's count of
/// overlapping entries over its count of unique ones (the latter floored at <c>epsilon</c>) within the tensor. As in
/// mergekit the scale is a float32 tensor, so the result is float32 whatever the inputs' dtype.
/// </summary>
public sealed class RamPlusTlMerge : IMergeMethod
{
    public string Name => "ramplus_tl";

    public string PrettyName => "Reinforced Agent Merging Plus (Tensor-Local)";

    public string? ReferenceUrl => "https://arxiv.org/abs/2601.13572";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } =
    [
        new("r", Default: 0.1),
        new("alpha", Default: 0.2),
        new("epsilon", Default: 1e-5),
    ];

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
        double epsilon = inputs.Number("epsilon");
        var v = RamVectors.Of(others, b, epsilon);
        var shared = v.Nonzero.logical_and(v.Overlap).sum([1]);
        var unique = v.Nonzero.logical_and(v.Unique).sum([1]);
        // Counts are integers; torch promotes them to the default float dtype (float32) against the float bound.
        var rho = shared.to(ScalarType.Float32).div(unique.to(ScalarType.Float32).clamp(min: epsilon));
        var scale = rho.clamp(0, inputs.Number("alpha")).mul(inputs.Number("r")).add(1);
        var kept = v.Kept;
        var merged = kept.mul(v.Unique).mul(scale.unsqueeze(-1)).add(v.OverlapTerm(kept)).sum([0], keepdim: true);
        return b.add(merged.reshape(b.shape)).MoveToOuterDisposeScope();
    }
}
