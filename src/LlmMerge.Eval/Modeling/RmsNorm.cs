using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlmMerge.Evaluation.Modeling;

/// <summary>Llama's RMSNorm: normalised in float32 whatever the model's dtype, then scaled by <c>weight</c>, as transformers does.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double _eps;

    public RmsNorm(long size, double eps, Device device, ScalarType dtype)
        : base(nameof(RmsNorm))
    {
        _eps = eps;
        weight = new Parameter(empty([size], dtype, device));
        register_parameter(nameof(weight), weight);
    }

    public Tensor Weight => weight;

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input.to(ScalarType.Float32);
        var variance = x.pow(2).mean([-1L], keepdim: true);
        x = x * (variance + _eps).rsqrt();
        return (weight * x.to(input.dtype)).MoveToOuterDisposeScope();
    }
}
