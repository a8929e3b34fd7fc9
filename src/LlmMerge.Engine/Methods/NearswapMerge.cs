using LlmMerge.Core;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>
/// NearSwap (https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001) as mergekit's nearswap.py: each entry
/// moves from the base towards the other model by weight = clamp(t / max(|base - other|, 1e-6), 0, 1), so entries
/// where the two models are within t of each other take the other model's value and distant ones stay near the base.
/// </summary>
public sealed class NearswapMerge : IMergeMethod
{
    public string Name => "nearswap";

    public string PrettyName => "NearSwap";

    public string? ReferenceUrl => "https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } = [new("t", Required: true)];

    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [];

    public bool RequiresBaseModel => true;

    public void ValidateModelCount(int models, bool hasBase)
    {
        if (models != 2)
            throw new LlmMergeException($"merge method 'nearswap' takes exactly two models, the base_model and one other (the recipe gives {models})");
    }

    public Tensor Merge(MergeInputs inputs)
    {
        var baseInput = inputs.Base ?? throw new LlmMergeException($"nearswap: base_model is not among the inputs of tensor '{inputs.TensorName}'");
        var others = inputs.Tensors.Where(m => m != baseInput).ToList();
        if (others.Count == 0)
            return baseInput.Tensor.alias();
        if (others.Count != 1)
            throw new LlmMergeException($"nearswap: tensor '{inputs.TensorName}' has {others.Count} models besides the base; nearswap takes exactly one");

        using var scope = NewDisposeScope();
        var a = baseInput.Tensor;
        var b = others[0].Tensor.to(a.dtype);
        double t = inputs.Number("t");
        // Python's t / tensor is torch's reciprocal(tensor) * t; doing the same rounds the same way.
        var weight = a.sub(b).abs_().clamp_min_(1e-6).reciprocal_().mul_(t).clamp_(0, 1);
        var res = weight.mul(b).add_(weight.neg().add_(1).mul_(a));
        return res.MoveToOuterDisposeScope();
    }
}
