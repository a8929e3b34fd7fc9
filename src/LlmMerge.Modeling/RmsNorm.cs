using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>
/// RMSNorm, normalised in float32 whatever the model's dtype. Llama scales by <c>weight</c> after the cast back;
/// Gemma by 1 + <c>weight</c> before it, each as transformers does, so bf16 rounds where theirs does.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double _eps;
    private readonly bool _plusOne;

    public RmsNorm(long size, double eps, Device device, ScalarType dtype, bool plusOne = false)
        : base(nameof(RmsNorm))
    {
        _eps = eps;
        _plusOne = plusOne;
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
        var y = _plusOne ? (x * (weight.to(ScalarType.Float32) + 1.0)).to(input.dtype) : weight * x.to(input.dtype);
        return y.MoveToOuterDisposeScope();
    }
}
