using LlmMerge.Engine.Kernels;
using static TorchSharp.torch;

namespace LlmMerge.Engine.Methods;

/// <summary>Weighted average of the models (Wortsman et al., model soups): sum(w x) / sum(w) when normalizing.</summary>
public sealed class LinearMerge : IFusedMergeMethod
{
    public string Name => "linear";

    public string PrettyName => "Linear";

    public string? ReferenceUrl => "https://arxiv.org/abs/2203.05482";

    public IReadOnlyList<ParameterDefinition> Parameters { get; } = [new("normalize", Default: true)];

    public IReadOnlyList<ParameterDefinition> TensorParameters { get; } = [new("weight", Required: true)];

    public bool RequiresBaseModel => false;

    public bool TryMergeFused(FusedMergeInputs inputs, RawTensor output) => LinearKernel.TryMerge(inputs, output, inputs.Flag("normalize"));

    public Tensor Merge(MergeInputs inputs)
    {
        if (FusedTensors.TryMerge(this, inputs) is { } fused)
            return fused;
        using var scope = NewDisposeScope();
        var dtype = inputs.Tensors[0].Tensor.dtype;
        Tensor? sum = null;
        double weightSum = 0;
        foreach (var m in inputs.Tensors)
        {
            double w = m.Number("weight");
            // mergekit builds the weights as a tensor of the computation dtype; round them the same way.
            w = tensor(w, dtype).to(ScalarType.Float64).item<double>();
            weightSum += w;
            var term = m.Tensor.mul(w);
            sum = sum is null ? term : sum.add_(term);
        }
        if (inputs.Flag("normalize"))
            sum = sum!.div_(tensor(weightSum, dtype));
        return sum!.MoveToOuterDisposeScope();
    }
}
