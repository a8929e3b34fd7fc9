using TorchSharp;
using static TorchSharp.torch;

namespace LlmMerge.Modeling;

/// <summary>One pre-norm block (<c>model.layers.N</c>): x + self_attn(input_layernorm(x)), then + mlp(post_attention_layernorm(·)).</summary>
public sealed class DecoderLayer : nn.Module
{
    private readonly DecoderAttention self_attn;
    private readonly GatedMlp mlp;
    private readonly RmsNorm input_layernorm;
    private readonly RmsNorm post_attention_layernorm;

    public DecoderLayer(CausalLmConfig c, Device device, ScalarType dtype)
        : base(nameof(DecoderLayer))
    {
        self_attn = new DecoderAttention(c, device, dtype);
        mlp = new GatedMlp(c, device, dtype);
        input_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, device, dtype, c.NormWeightPlusOne);
        post_attention_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, device, dtype, c.NormWeightPlusOne);
        register_module(nameof(self_attn), self_attn);
        register_module(nameof(mlp), mlp);
        register_module(nameof(input_layernorm), input_layernorm);
        register_module(nameof(post_attention_layernorm), post_attention_layernorm);
    }

    public DecoderLayerOutput Forward(DecoderLayerInput input)
    {
        using var scope = NewDisposeScope();
        var x = input.HiddenStates;
        var h = x + self_attn.Forward(input_layernorm.forward(x), input.Cos, input.Sin, input.Mask, input.Cache, input.LayerIndex, input.Store, input.CacheRows);
        var y = h + mlp.forward(post_attention_layernorm.forward(h));
        return new DecoderLayerOutput(y.MoveToOuterDisposeScope());
    }
}
