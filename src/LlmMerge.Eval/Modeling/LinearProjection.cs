using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlmMerge.Evaluation.Modeling;

/// <summary>
/// y = x Wᵀ + b with Hugging Face's parameter names (<c>weight</c> [out, in], <c>bias</c>). Unlike nn.Linear it
/// allocates its weights uninitialised: a loaded model overwrites them at once, and a training run calls
/// <see cref="DecoderForCausalLM.InitializeWeights"/>, so a random init here would only cost time.
/// </summary>
public sealed class LinearProjection : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter? bias;

    public LinearProjection(long inFeatures, long outFeatures, bool hasBias, Device device, ScalarType dtype)
        : base(nameof(LinearProjection))
    {
        weight = new Parameter(empty([outFeatures, inFeatures], dtype, device));
        register_parameter(nameof(weight), weight);
        if (hasBias)
        {
            bias = new Parameter(empty([outFeatures], dtype, device));
            register_parameter(nameof(bias), bias);
        }
    }

    public Tensor Weight => weight;

    public Tensor? Bias => bias;

    public override Tensor forward(Tensor input) => nn.functional.linear(input, weight, bias);
}
